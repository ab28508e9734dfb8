import { HubConnectionBuilder, type IRetryPolicy, LogLevel } from "@microsoft/signalr";
import type { components } from "./generated/gateway-api.js";
import { backoff, type CallStreamItem, type CallStreamScope, type ReconnectOptions, type StreamOptions } from "./stream.js";

type CallEventMessage = components["schemas"]["CallEventMessage"];
type CallSnapshotMessage = components["schemas"]["CallSnapshotMessage"];
type EventsDroppedMessage = components["schemas"]["EventsDroppedMessage"];

/**
 * A subscription on the gateway's SignalR hub (/hubs/calls) as an endless iteration, on a connection of its own
 * (stateful and automatic reconnect). When the connection is replaced, or the gateway ends the subscription because the
 * client fell behind (EventsDropped), it subscribes again after the last cursor it handed out, so the gateway replays
 * what was missed (or sends a reset snapshot). A refused subscription ends it with the hub's error.
 */
export async function* subscribeCalls(
  baseUrl: string,
  apiKey: string,
  reconnect: ReconnectOptions,
  scope: CallStreamScope,
  options: StreamOptions = {},
): AsyncGenerator<CallStreamItem> {
  const { signal } = options;
  const retryPolicy: IRetryPolicy = { nextRetryDelayInMilliseconds: (c) => backoff(reconnect, reconnect.reconnectDelayMs, c.previousRetryCount) };
  const connection = new HubConnectionBuilder()
    .withUrl(new URL("hubs/calls", baseUrl).toString(), { accessTokenFactory: () => apiKey })
    .withAutomaticReconnect(retryPolicy)
    .withStatefulReconnect()
    .configureLogging(LogLevel.None)
    .build();

  const queue: CallStreamItem[] = [];
  const ended = new Set<string>();
  let lastCursor = scope.afterCursor;
  let failure: unknown;
  let closed = false;
  let wake: () => void = () => {};
  const push = (item: CallStreamItem, subscriptionId: string) => {
    if (ended.has(subscriptionId)) return;
    lastCursor = item.cursor;
    queue.push(item);
    wake();
  };
  const subscribe = () =>
    connection.invoke("Subscribe", { ...scope, afterCursor: lastCursor ?? null }).catch((error: unknown) => {
      failure = error;
      wake();
    });

  connection.on("CallSnapshot", (m: CallSnapshotMessage) => push({ kind: "snapshot", cursor: m.cursor, reset: m.reset, calls: m.calls }, m.subscriptionId));
  connection.on("CallEvent", (m: CallEventMessage) => push({ kind: "event", cursor: m.cursor, event: m.event }, m.subscriptionId));
  connection.on("EventsDropped", (m: EventsDroppedMessage) => {
    if (ended.has(m.subscriptionId)) return;
    ended.add(m.subscriptionId);
    void subscribe();
  });
  // A new connection (the stateful one could not be resumed) has no subscriptions: subscribe again after the last cursor.
  connection.onreconnected(() => void subscribe());
  connection.onclose((error) => {
    closed = true;
    failure ??= error;
    wake();
  });
  const stop = () => void connection.stop();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    await connection.start();
    await subscribe();
    while (!signal?.aborted) {
      const item = queue.shift();
      if (item) {
        yield item;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (closed) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await connection.stop();
  }
}
