// The live call feed: the gateway's SignalR hub /hubs/calls (docs/gateway-api.md, "Call-events stream"), subscribed with
// scope "all". A subscription belongs to one hub connection, so after SignalR's automatic reconnect (a new connection)
// the page subscribes again after the last cursor it saw: the hub replays what was missed, or sends a fresh snapshot
// flagged reset when it cannot. Stateful reconnect covers short transport drops without either.

const { signalR } = globalThis;

const HUB_PATH = "hubs/calls";
// Waits between attempts (ms); the last one repeats forever, with up to 20 % jitter so many pages spread out.
const RETRY_DELAYS = [0, 2000, 5000, 10000, 30000];

function retryDelay(attempt) {
  const base = RETRY_DELAYS[Math.min(attempt, RETRY_DELAYS.length - 1)];
  return base + Math.floor(Math.random() * base * 0.2);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * handlers: status(state, detail) with state one of connecting, connected, reconnecting, resubscribed, disconnected;
 * snapshot(message), event(callEvent), cursor(cursor).
 */
export class CallStream {
  #connection;
  #handlers;
  #stop = new AbortController();
  #subscriptionId = null;
  #cursor = null;
  // While Subscribe is in flight its snapshot (and the first events) arrive before its result tells their
  // subscriptionId: they wait here, and only those of the new subscription are applied.
  #pending = null;
  // Whether the current (re)subscription was answered with a fresh snapshot instead of a replay.
  #reset = false;

  constructor(key, handlers) {
    this.#handlers = handlers;
    this.#connection = new signalR.HubConnectionBuilder()
      .withUrl(HUB_PATH, { accessTokenFactory: () => key })
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (context) => retryDelay(context.previousRetryCount) })
      .withStatefulReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    this.#connection.on("CallSnapshot", (message) => this.#receive("snapshot", message));
    this.#connection.on("CallEvent", (message) => this.#receive("event", message));
    this.#connection.on("EventsDropped", (message) => this.#receive("dropped", message));
    this.#connection.onreconnecting((error) => this.#handlers.status("reconnecting", error?.message));
    this.#connection.onreconnected(() => this.#resubscribe("reconnected"));
    this.#connection.onclose((error) => {
      if (!this.#stop.signal.aborted) this.#handlers.status("disconnected", error?.message ?? "the connection closed");
    });
  }

  /** Connects and subscribes, retrying until it works or stop() is called. */
  async start() {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      this.#handlers.status("connecting");
      try {
        await this.#connection.start();
        await this.#subscribe(null);
        this.#handlers.status("connected");
        return;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        await this.#connection.stop().catch(() => {});
        const wait = retryDelay(attempt + 1);
        this.#handlers.status("disconnected", `${error.message}; retrying in ${Math.round(wait / 1000)} s`);
        await sleep(wait, this.#stop.signal);
      }
    }
  }

  async stop() {
    this.#stop.abort();
    await this.#connection.stop();
  }

  #receive(kind, message) {
    if (this.#pending !== null) {
      this.#pending.push([kind, message]);
      return;
    }
    if (message.subscriptionId === this.#subscriptionId) this.#apply(kind, message);
  }

  #apply(kind, message) {
    switch (kind) {
      case "snapshot":
        this.#cursor = message.cursor;
        this.#handlers.snapshot(message);
        if (message.reset) {
          this.#reset = true;
          this.#handlers.status("resubscribed", "the missed events could not be replayed; fresh snapshot");
        }
        break;
      case "event":
        this.#cursor = message.cursor;
        this.#handlers.event(message.event);
        break;
      case "dropped":
        // The hub's buffer for this connection overflowed and ended the subscription: resume from what was applied here.
        void this.#resubscribe(`${message.dropped} events dropped`);
        return;
    }
    this.#handlers.cursor(this.#cursor);
  }

  async #subscribe(afterCursor) {
    this.#pending = [];
    let subscription;
    try {
      subscription = await this.#connection.invoke("Subscribe", afterCursor === null ? { scope: "all" } : { scope: "all", afterCursor });
    } catch (error) {
      this.#pending = null;
      throw error;
    }
    const buffered = this.#pending;
    this.#pending = null;
    this.#subscriptionId = subscription.subscriptionId;
    this.#cursor = subscription.cursor ?? this.#cursor;
    for (const [kind, message] of buffered) {
      if (message.subscriptionId === subscription.subscriptionId) this.#apply(kind, message);
    }
    this.#handlers.cursor(this.#cursor);
  }

  // The previous subscription is gone either way: it ended with the old connection, or with its EventsDropped.
  async #resubscribe(reason) {
    const after = this.#cursor;
    this.#subscriptionId = null;
    this.#reset = false;
    try {
      await this.#subscribe(after);
      if (!this.#reset) this.#handlers.status("resubscribed", after === null ? reason : `${reason}; resumed after cursor ${after}`);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      // Without a subscription the page would silently go stale: start over on a new connection.
      this.#handlers.status("disconnected", `resubscribing failed: ${error.message}`);
      await this.#connection.stop().catch(() => {});
      await this.start();
    }
  }
}
