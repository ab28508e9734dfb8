// Places a call, follows it over server-sent events and SignalR until it is connected, hangs up and follows it to its
// end: the TypeScript client against a running gateway. The end-to-end tests run it with node; exit code 0 when the call
// went the whole way, 1 otherwise.
//   GATEWAY_ADDRESS=http://127.0.0.1:8080 GATEWAY_API_KEY=dev-gateway-key CALL_FROM=sip:alice@… CALL_TO=sip:bob@… npm run smoke
import { createGatewayClient, type CallStreamItem } from "./index.js";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The call's state in a stream message, if the message is about it. */
function stateOf(item: CallStreamItem, callId: string): string | undefined {
  if (item.kind === "event") return item.event.call.id === callId ? item.event.call.state : undefined;
  return item.calls.find((call) => call.id === callId)?.state;
}

/** Reads a stream until the call reaches `state`; returns the last cursor. */
async function follow(name: string, stream: AsyncGenerator<CallStreamItem>, callId: string, state: string): Promise<string> {
  for await (const item of stream) {
    const seen = stateOf(item, callId);
    if (seen) console.log(`${name}: ${item.kind === "event" ? item.event.type : "snapshot"} (${seen})`);
    // Leaving the loop ends the stream (its response or connection closes).
    if (seen === state) return item.cursor;
  }
  throw new Error(`${name} ended before the call was ${state}`);
}

const gateway = createGatewayClient({ baseUrl: setting("GATEWAY_ADDRESS"), apiKey: setting("GATEWAY_API_KEY") });
const timeout = AbortSignal.timeout(Number(process.env.SMOKE_TIMEOUT_MS ?? 60000));
try {
  const call = await gateway.placeCall({ from: setting("CALL_FROM"), to: setting("CALL_TO") });
  console.log(`placed ${call.id} (${call.state})`);
  const cursor = await follow("sse", gateway.streamCalls({ scope: "call", callId: call.id }, { signal: timeout }), call.id, "connected");
  await follow("signalr", gateway.subscribe({ scope: "call", callId: call.id }, { signal: timeout }), call.id, "connected");
  const hangingUp = await gateway.hangUp(call.id);
  console.log(`hung up ${hangingUp.id}`);
  // Resumes after the cursor the first stream stopped at: only the events since then.
  await follow("sse", gateway.streamCalls({ scope: "call", callId: call.id, afterCursor: cursor }, { signal: timeout }), call.id, "ended");
  const ended = (await gateway.api.GET("/calls/{id}", { params: { path: { id: call.id } } })).data!;
  console.log(`ended ${ended.id}: ${ended.endReason}`);
} catch (error) {
  console.error(timeout.aborted ? "timed out" : error);
  process.exitCode = 1;
}
