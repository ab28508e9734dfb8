import assert from "node:assert/strict";
import { test } from "node:test";
import { createGatewayClient, GatewayProblemError, readServerSentEvents, type CallStreamItem } from "../src/index.js";

const call = (id: string, state: string) =>
  ({ id, callSetupId: id, from: "sip:alice@example.com", to: "sip:bob@example.com", state, endReason: null, createdAt: "2026-12-07T10:00:00Z", updatedAt: "2026-12-07T10:00:01Z", endedAt: null, legs: [] });
const snapshot = (cursor: string, reset: boolean, ...calls: object[]) =>
  `event: snapshot\nid: ${cursor}\ndata: ${JSON.stringify({ subscriptionId: "s1", cursor, reset, calls })}\n\n`;
const event = (cursor: string, id: string, sequence: number, state: string) =>
  `event: call\nid: ${cursor}\ndata: ${JSON.stringify({ subscriptionId: "s1", cursor, event: { id: `${id}.${sequence}`, type: `call.${state}`, sequence, occurredAt: "2026-12-07T10:00:01Z", reason: null, call: call(id, state) } })}\n\n`;
const dropped = (cursor: string) => `event: dropped\nid: ${cursor}\ndata: ${JSON.stringify({ subscriptionId: "s1", dropped: 3, cursor })}\n\n`;

/** A fake gateway: answers requests in order from a script and records them. */
function scripted(...answers: (() => Response)[]) {
  const requests: Request[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    requests.push(request);
    const answer = answers.shift();
    if (!answer) throw new Error(`no answer for request ${requests.length}`);
    return answer();
  };
  return { requests, fetch: fetch as typeof globalThis.fetch };
}
const stream = (text: string) => () => new Response(text, { headers: { "content-type": "text/event-stream" } });
const problem = (status: number, body: object) => () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json" } });

async function take(items: AsyncGenerator<CallStreamItem>, count: number): Promise<CallStreamItem[]> {
  const taken: CallStreamItem[] = [];
  for await (const item of items) {
    taken.push(item);
    if (taken.length === count) break;
  }
  return taken;
}

test("the stream starts with the snapshot, then the events in order", async () => {
  const gateway = scripted(stream("retry: 0\n\n" + snapshot("e1-4", false, call("ab12cd34", "caller-ringing")) + ": heartbeat\n\n" + event("e1-5", "ab12cd34", 3, "connected")));
  const client = createGatewayClient({ baseUrl: "http://gateway.test/base", apiKey: "k1", fetch: gateway.fetch });

  const items = await take(client.streamCalls({ scope: "all" }), 2);

  assert.deepEqual(items.map((i) => i.kind), ["snapshot", "event"]);
  assert.equal(items[0].kind === "snapshot" && items[0].calls[0].state, "caller-ringing");
  assert.equal(items[1].kind === "event" && items[1].event.sequence, 3);
  assert.equal(gateway.requests[0].url, "http://gateway.test/base/calls/stream?scope=all");
  assert.equal(gateway.requests[0].headers.get("x-api-key"), "k1");
  assert.equal(gateway.requests[0].headers.get("last-event-id"), null);
});

test("an ended or dropped response is resumed after the last cursor", async () => {
  const gateway = scripted(
    stream(snapshot("e1-4", false) + event("e1-5", "ab12cd34", 1, "requested")),
    stream(event("e1-6", "ab12cd34", 2, "caller-ringing") + dropped("e1-6")),
    stream(event("e1-7", "ab12cd34", 3, "caller-answered")),
  );
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "k1", fetch: gateway.fetch, reconnectDelayMs: 0 });

  const items = await take(client.streamCalls({ scope: "call", callId: "ab12cd34" }), 4);

  assert.deepEqual(items.map((i) => i.cursor), ["e1-4", "e1-5", "e1-6", "e1-7"]);
  assert.deepEqual(gateway.requests.map((r) => r.headers.get("last-event-id")), [null, "e1-5", "e1-6"]);
});

test("a resume the gateway cannot replay surfaces a reset snapshot; failures that may pass are retried", async () => {
  const gateway = scripted(
    problem(503, { status: 503, code: "xmpp-unavailable" }),
    () => { throw new TypeError("fetch failed"); },
    stream(snapshot("e9-1", true, call("ab12cd34", "connected"))),
  );
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "k1", fetch: gateway.fetch, reconnectDelayMs: 0 });

  const [item] = await take(client.streamCalls({ scope: "all", afterCursor: "e1-100" }), 1);

  assert.equal(item.kind === "snapshot" && item.reset, true);
  assert.deepEqual(gateway.requests.map((r) => r.headers.get("last-event-id")), ["e1-100", "e1-100", "e1-100"]);
});

test("a refused key ends the stream with the problem", async () => {
  const gateway = scripted(problem(401, { status: 401, code: "unauthorized", detail: "The API key is not valid.", traceId: "00-abc-01" }));
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "bad", fetch: gateway.fetch });

  await assert.rejects(take(client.streamCalls({ scope: "all" }), 1), (e: unknown) =>
    e instanceof GatewayProblemError && e.status === 401 && e.code === "unauthorized" && e.traceId === "00-abc-01");
});

test("REST refusals are GatewayProblemErrors read by member name", async () => {
  const gateway = scripted(problem(404, { type: "urn:active-calls-gateway:problem:call-not-found", status: 404, code: "call-not-found", detail: "No call with id ab12cd34.", traceId: "00-def-01", xmppCondition: "item-not-found" }));
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "k1", fetch: gateway.fetch });

  await assert.rejects(client.hangUp("ab12cd34"), (e: unknown) =>
    e instanceof GatewayProblemError && e.code === "call-not-found" && e.detail === "No call with id ab12cd34." && e.traceId === "00-def-01" && !e.isTransient);
});

test("placeCall sends the API key and an Idempotency-Key", async () => {
  const gateway = scripted(() => Response.json(call("ab12cd34", "requested"), { status: 202 }));
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "k1", fetch: gateway.fetch });

  const placed = await client.placeCall({ from: "sip:alice@example.com", to: "sip:bob@example.com" }, "retry-key-1");

  assert.equal(placed.id, "ab12cd34");
  assert.equal(gateway.requests[0].url, "http://gateway.test/calls");
  assert.equal(gateway.requests[0].headers.get("idempotency-key"), "retry-key-1");
  assert.equal(gateway.requests[0].headers.get("x-api-key"), "k1");
});

test("events split across chunks and line ends of every kind are read whole", async () => {
  const chunks = ["event: call\r\nid: e1-1\r", "\ndata: {\"a\":", "1}\r\rdata: x\ndata: y\n\n"];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
  const events = [];
  for await (const e of readServerSentEvents(body)) events.push(e);

  assert.deepEqual(events, [
    { event: "call", data: "{\"a\":1}", id: "e1-1", retry: undefined },
    { event: "message", data: "x\ny", id: "e1-1", retry: undefined },
  ]);
});

test("leaving the iteration closes the response", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(snapshot("e1-4", false)));
    },
    cancel() {
      cancelled = true;
    },
  });
  const gateway = scripted(() => new Response(body, { headers: { "content-type": "text/event-stream" } }));
  const client = createGatewayClient({ baseUrl: "http://gateway.test", apiKey: "k1", fetch: gateway.fetch });

  await take(client.streamCalls({ scope: "all" }), 1);

  assert.equal(cancelled, true);
});
