import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/gateway-api.js";
import { GatewayProblemError } from "./problem.js";
import { subscribeCalls } from "./signalr.js";
import { streamCalls } from "./sse.js";
import type { CallResource, CallStreamItem, CallStreamScope, ReconnectOptions, StreamOptions } from "./stream.js";

export interface GatewayClientOptions {
  /** The gateway's address, e.g. http://localhost:8080/. */
  baseUrl: string;
  /** The API key, sent as X-Api-Key (and as the SignalR access token). */
  apiKey: string;
  /** First wait before reconnecting a call stream after a failure (default 1000 ms; the gateway's retry: replaces it for SSE). */
  reconnectDelayMs?: number;
  /** Longest wait between reconnection attempts (default 30000 ms). */
  maxReconnectDelayMs?: number;
  /** The fetch to use (tests, proxies); default globalThis.fetch. */
  fetch?: typeof fetch;
}

export type CreateCallRequest = components["schemas"]["CreateCallRequest"];

export interface GatewayClient {
  /** The REST API, typed from the gateway's openapi.yaml (openapi-fetch): `api.GET("/calls/{id}", …)`. Refusals throw GatewayProblemError. */
  api: Client<paths>;
  /** POST /calls with an Idempotency-Key: pass the same key when retrying and the gateway answers with the first attempt's call. */
  placeCall(request: CreateCallRequest, idempotencyKey?: string): Promise<CallResource>;
  /** DELETE /calls/{id}: hangs up (or cancels a ringing call); repeating it is harmless. */
  hangUp(callId: string): Promise<CallResource>;
  /** Follows calls over server-sent events, reconnecting with Last-Event-ID until the signal aborts. */
  streamCalls(scope: CallStreamScope, options?: StreamOptions): AsyncGenerator<CallStreamItem>;
  /** Follows calls over SignalR, subscribing again after the last cursor when needed, until the signal aborts. */
  subscribe(scope: CallStreamScope, options?: StreamOptions): AsyncGenerator<CallStreamItem>;
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  // Relative paths resolve under the base address only when it ends with a slash.
  const baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : options.baseUrl + "/";
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const headers = { "x-api-key": options.apiKey };
  const reconnect: ReconnectOptions = {
    reconnectDelayMs: options.reconnectDelayMs ?? 1000,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? 30000,
  };
  const api = createClient<paths>({ baseUrl: baseUrl.slice(0, -1), headers, fetch: (request) => fetchImpl(request) });
  const problems: Middleware = {
    async onResponse({ response }) {
      if (!response.ok) throw await GatewayProblemError.fromResponse(response);
      return undefined;
    },
  };
  api.use(problems);

  return {
    api,
    async placeCall(request, idempotencyKey = crypto.randomUUID()) {
      const { data } = await api.POST("/calls", { body: request, params: { header: { "Idempotency-Key": idempotencyKey } } });
      return data!;
    },
    async hangUp(callId) {
      const { data } = await api.DELETE("/calls/{id}", { params: { path: { id: callId } } });
      return data!;
    },
    streamCalls: (scope, streamOptions) => streamCalls(baseUrl, headers, fetchImpl, reconnect, scope, streamOptions),
    subscribe: (scope, streamOptions) => subscribeCalls(baseUrl, options.apiKey, reconnect, scope, streamOptions),
  };
}
