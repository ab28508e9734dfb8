// The gateway's REST API as the dashboard uses it. Every call sends the user's key as a bearer token; every refusal
// becomes a ProblemError carrying the problem+json body (RFC 9457) so the page can show it as the API wrote it.

/** A refused or failed request: `problem` is the problem+json body, or one made up when there was none. */
export class ProblemError extends Error {
  constructor(problem, status, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ProblemError";
    this.problem = problem;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not (a gateway opened over plain http on another host).
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class GatewayApi {
  #key;
  // A POST whose outcome is unknown (the network failed before any answer) keeps its Idempotency-Key, so the user's
  // retry of the same request cannot place a second call: the gateway replays the first answer instead.
  #unansweredKeys = new Map();

  constructor(key) {
    this.#key = key;
  }

  /** Cheap authenticated read: proves the key before the page opens the live connection. */
  checkKey() {
    return this.#send("GET", "calls?limit=1");
  }

  getCall(id) {
    return this.#send("GET", `calls/${encodeURIComponent(id)}`);
  }

  placeCall(from, to) {
    return this.#send("POST", "calls", { from, to });
  }

  hangUp(id) {
    return this.#send("DELETE", `calls/${encodeURIComponent(id)}`);
  }

  transfer(id, endpoint, target) {
    return this.#send("POST", `calls/${encodeURIComponent(id)}/transfer`, { endpoint, target });
  }

  async #send(method, path, body) {
    const headers = { Authorization: `Bearer ${this.#key}`, Accept: "application/json, application/problem+json" };
    const json = body === undefined ? undefined : JSON.stringify(body);
    const attempt = `${method} ${path} ${json ?? ""}`;
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (method === "POST") {
      if (!this.#unansweredKeys.has(attempt)) this.#unansweredKeys.set(attempt, newIdempotencyKey());
      headers["Idempotency-Key"] = this.#unansweredKeys.get(attempt);
    }

    let response;
    try {
      response = await fetch(path, { method, headers, body: json, cache: "no-store" });
    } catch (error) {
      throw new ProblemError({ title: "The gateway could not be reached", detail: `${error.message}. Check the connection and try again.` }, 0);
    }
    this.#unansweredKeys.delete(attempt);

    const type = response.headers.get("Content-Type") ?? "";
    const payload = type.includes("json") ? await response.json().catch(() => null) : null;
    if (response.ok) return payload;
    const problem = payload !== null && typeof payload === "object"
      ? payload
      : { title: response.statusText || "The request failed", status: response.status };
    throw new ProblemError(problem, response.status, response.headers.get("Retry-After"));
  }
}
