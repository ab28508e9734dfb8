import type { components } from "./generated/gateway-api.js";

export type CallResource = components["schemas"]["CallResource"];
export type CallEvent = components["schemas"]["CallEvent"];

/** What a call stream follows: every call the API key may see, the calls of one address, or one call. */
export type CallStreamScope =
  | { scope: "all"; afterCursor?: string }
  | { scope: "address"; address: string; afterCursor?: string }
  | { scope: "call"; callId: string; afterCursor?: string };

/**
 * One message of a call stream. `snapshot` comes first on a new stream, and with `reset: true` when a resume could not
 * be replayed (replace what you hold with its calls); `event` is one call event. Keep the last `cursor` to resume a
 * later stream after it (`afterCursor`).
 */
export type CallStreamItem =
  | { kind: "snapshot"; cursor: string; reset: boolean; calls: CallResource[] }
  | { kind: "event"; cursor: string; event: CallEvent };

export interface StreamOptions {
  /** Ends the stream (the iteration returns). */
  signal?: AbortSignal;
}

/** Reconnect waits: the first (the gateway's `retry:` replaces it for SSE), doubled per failure in a row up to the last. */
export interface ReconnectOptions {
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
}

export function backoff(options: ReconnectOptions, baseMs: number, failures: number): number {
  return Math.min(options.maxReconnectDelayMs, baseMs * 2 ** Math.min(failures, 16));
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
