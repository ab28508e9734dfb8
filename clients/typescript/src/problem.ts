/**
 * The gateway refused a request: its application/problem+json answer, or the status alone when the answer is not one.
 * Branch on `code`; `traceId` finds the request in the gateway's logs. Members are read by name and any other member
 * is ignored, so a problem with more (or fewer) members than this client knows still reads.
 */
export class GatewayProblemError extends Error {
  readonly status: number;
  /** The stable problem code (call-not-found, rate-limited, …); undefined when the answer was not a problem. */
  readonly code?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly traceId?: string;
  /** Per-field messages of a validation-failed answer. */
  readonly errors: Record<string, string[]>;
  /** The answer's Retry-After in seconds (429, 503). */
  readonly retryAfterSeconds?: number;
  /** The whole answer, parsed, for members this client does not name. */
  readonly body: unknown;

  constructor(status: number, body: unknown, retryAfterSeconds?: number) {
    const problem = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const text = (name: string) => (typeof problem[name] === "string" ? (problem[name] as string) : undefined);
    const code = text("code");
    super(`The gateway answered ${status}${code ? " " + code : ""}: ${text("detail") ?? text("title") ?? "no details"}`);
    this.name = "GatewayProblemError";
    this.status = status;
    this.code = code;
    this.title = text("title");
    this.detail = text("detail");
    this.traceId = text("traceId");
    this.errors = {};
    if (typeof problem.errors === "object" && problem.errors !== null) {
      for (const [field, messages] of Object.entries(problem.errors as Record<string, unknown>)) {
        this.errors[field] = Array.isArray(messages) ? messages.map(String) : [String(messages)];
      }
    }
    this.retryAfterSeconds = retryAfterSeconds;
    this.body = body;
  }

  /** Worth trying again later: rate limits and the gateway or its service being unavailable or slow. */
  get isTransient(): boolean {
    return this.status === 429 || this.status >= 500;
  }

  static async fromResponse(response: Response): Promise<GatewayProblemError> {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): the status and the text say what there is to say.
    }
    const retryAfter = Number(response.headers.get("retry-after"));
    return new GatewayProblemError(response.status, body, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
  }
}
