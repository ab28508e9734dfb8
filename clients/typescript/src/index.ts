export { createGatewayClient, type CreateCallRequest, type GatewayClient, type GatewayClientOptions } from "./client.js";
export { GatewayProblemError } from "./problem.js";
export { readServerSentEvents, type ServerSentEvent } from "./sse.js";
export type { CallEvent, CallResource, CallStreamItem, CallStreamScope, StreamOptions } from "./stream.js";
export type { components, paths } from "./generated/gateway-api.js";
