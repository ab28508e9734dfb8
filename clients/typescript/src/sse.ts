import { GatewayProblemError } from "./problem.js";
import { backoff, delay, type CallStreamItem, type CallStreamScope, type ReconnectOptions, type StreamOptions } from "./stream.js";

/** One server-sent event as the text/event-stream format defines it. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/** Splits a text/event-stream body into events (comments skipped, CR, LF and CRLF line ends alike). */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let end: RegExpExecArray | null;
      const lineEnd = /\r\n|\r(?!$)|\n/g;
      let start = 0;
      // A lone CR at the very end may be the first half of a CRLF: wait for the next chunk unless the body ended.
      while ((end = lineEnd.exec(buffer)) !== null) {
        const line = buffer.slice(start, end.index);
        start = end.index + end[0].length;
        if (line === "") {
          if (data.length > 0 || retry !== undefined) yield { event: event || "message", data: data.join("\n"), id, retry };
          event = "";
          data = [];
          retry = undefined;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
        else if (field === "id" && !text.includes("\0")) id = text;
        else if (field === "retry" && /^\d+$/.test(text)) retry = Number(text);
      }
      buffer = buffer.slice(start);
      if (done) return;
    }
  } finally {
    // A reader that stops early (the consumer left the iteration) closes the response, or its connection stays open.
    await reader.cancel().catch(() => {});
  }
}

/**
 * GET /calls/stream as an endless iteration: when the response ends or the connection fails it reconnects (after the
 * reconnect delay or the gateway's `retry:`, doubled per failure in a row) with Last-Event-ID set to the last message's
 * cursor, so the gateway replays exactly what was missed; when it cannot, a snapshot with `reset: true` comes. A
 * refusal that will not pass (400, 401, 403, 404) ends it with a GatewayProblemError.
 */
export async function* streamCalls(
  baseUrl: string,
  headers: Record<string, string>,
  fetchImpl: typeof fetch,
  reconnect: ReconnectOptions,
  scope: CallStreamScope,
  options: StreamOptions = {},
): AsyncGenerator<CallStreamItem> {
  const { signal } = options;
  let lastCursor = scope.afterCursor;
  let retryMs = reconnect.reconnectDelayMs;
  let failures = 0;
  const url = new URL("calls/stream", baseUrl);
  url.searchParams.set("scope", scope.scope);
  if (scope.scope === "address") url.searchParams.set("address", scope.address);
  if (scope.scope === "call") url.searchParams.set("callId", scope.callId);

  while (!signal?.aborted) {
    let received = false;
    try {
      const response = await fetchImpl(url, {
        headers: { ...headers, accept: "text/event-stream", ...(lastCursor ? { "last-event-id": lastCursor } : {}) },
        signal,
      });
      if (!response.ok) throw await GatewayProblemError.fromResponse(response);
      if (!response.body) throw new TypeError("The stream's response has no body.");
      for await (const message of readServerSentEvents(response.body)) {
        if (message.retry !== undefined) retryMs = message.retry;
        const item = parse(message);
        if (!item) continue;
        received = true;
        failures = 0;
        lastCursor = item.cursor;
        // After 'dropped' the gateway ends the response; the reconnect resumes after its cursor.
        if (item.kind !== "dropped") yield item;
      }
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof GatewayProblemError && !error.isTransient) throw error;
      // Otherwise the network, a response cut off, or a refusal that may pass (429, 5xx): reconnect.
    }
    // A response that ended after messages (dropped, the gateway stopping) reconnects at once.
    if (received) continue;
    await delay(backoff(reconnect, retryMs, failures++), signal);
  }
}

type ParsedMessage = CallStreamItem | { kind: "dropped"; cursor: string };

/** Reads one message by its event type; types this client does not know are skipped. */
export function parse(message: ServerSentEvent): ParsedMessage | undefined {
  switch (message.event) {
    case "snapshot": {
      const m = JSON.parse(message.data);
      return { kind: "snapshot", cursor: m.cursor, reset: m.reset, calls: m.calls };
    }
    case "call": {
      const m = JSON.parse(message.data);
      return { kind: "event", cursor: m.cursor, event: m.event };
    }
    case "dropped":
      return { kind: "dropped", cursor: JSON.parse(message.data).cursor };
    default:
      return undefined;
  }
}
