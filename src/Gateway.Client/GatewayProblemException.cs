using System.Net;
using System.Text.Json;

namespace Gateway.Client;

/// <summary>
/// The gateway refused a request: its <c>application/problem+json</c> answer (or the status alone when the answer is not
/// one). Branch on <see cref="Code"/>; <see cref="TraceId"/> finds the request in the gateway's logs.
/// </summary>
public sealed class GatewayProblemException : Exception
{
    /// <summary>A refusal as read by <see cref="ReadAsync"/>.</summary>
    public GatewayProblemException(HttpStatusCode status, string? code, string? title, string? detail, string? traceId,
        TimeSpan? retryAfter, IReadOnlyDictionary<string, IReadOnlyList<string>> errors, string? body)
        : base(Describe(status, code, title, detail))
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        TraceId = traceId;
        RetryAfter = retryAfter;
        Errors = errors;
        Body = body;
    }

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The stable problem code (<c>call-not-found</c>, <c>rate-limited</c>, …); null when the answer was not a problem.</summary>
    public string? Code { get; }

    /// <summary>The problem's short summary.</summary>
    public string? Title { get; }

    /// <summary>What went wrong with this request.</summary>
    public string? Detail { get; }

    /// <summary>The request's id in the gateway's logs (and traces).</summary>
    public string? TraceId { get; }

    /// <summary>The answer's <c>Retry-After</c> (429, 503).</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>Per-field messages of a <c>validation-failed</c> answer; empty otherwise.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; }

    /// <summary>The answer's body as received.</summary>
    public string? Body { get; }

    /// <summary>Worth trying again later: rate limits and the gateway or its service being unavailable or slow.</summary>
    public bool IsTransient => Status is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway
        or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.InternalServerError;

    /// <summary>Reads an error answer. Members are read by name and any other member is ignored, so a problem with more
    /// (or fewer) members than this client knows still reads.</summary>
    public static async Task<GatewayProblemException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? code = null, title = null, detail = null, traceId = null;
        var errors = new Dictionary<string, IReadOnlyList<string>>();
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                var root = json.RootElement;
                code = Text(root, "code");
                title = Text(root, "title");
                detail = Text(root, "detail");
                traceId = Text(root, "traceId");
                if (root.TryGetProperty("errors", out var fields) && fields.ValueKind == JsonValueKind.Object)
                    foreach (var field in fields.EnumerateObject())
                        errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                            ? field.Value.EnumerateArray().Select(m => m.ToString()).ToList()
                            : [field.Value.ToString()];
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's error page): the status and the body say what there is to say.
        }
        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => (TimeSpan?)null,
        };
        return new GatewayProblemException(response.StatusCode, code, title, detail, traceId, retryAfter, errors, body);
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Describe(HttpStatusCode status, string? code, string? title, string? detail) =>
        $"The gateway answered {(int)status}{(code is null ? "" : " " + code)}: {detail ?? title ?? status.ToString()}";
}
