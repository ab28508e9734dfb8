using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Gateway.Client.Tests;

/// <summary>A fake gateway for unit tests: answers requests in order from a script and records what was asked.</summary>
internal sealed class ScriptedHandler : HttpMessageHandler
{
    private readonly Queue<Func<HttpRequestMessage, HttpResponseMessage>> _script = new();

    public List<HttpRequestMessage> Requests { get; } = [];

    public ScriptedHandler Then(HttpStatusCode status, string body, string contentType = "application/json")
    {
        _script.Enqueue(_ => new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, contentType) });
        return this;
    }

    public ScriptedHandler ThenStream(string events) => Then(HttpStatusCode.OK, events, "text/event-stream");

    public ScriptedHandler ThenProblem(HttpStatusCode status, string problemJson, TimeSpan? retryAfter = null)
    {
        _script.Enqueue(_ =>
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent(problemJson, Encoding.UTF8, "application/problem+json") };
            if (retryAfter is { } delay) response.Headers.RetryAfter = new RetryConditionHeaderValue(delay);
            return response;
        });
        return this;
    }

    public ScriptedHandler ThenNetworkFailure()
    {
        _script.Enqueue(_ => throw new HttpRequestException("Connection refused"));
        return this;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        if (!_script.TryDequeue(out var next)) throw new InvalidOperationException($"The script has no answer for request {Requests.Count}: {request.RequestUri}");
        return Task.FromResult(next(request));
    }
}

/// <summary>The gateway's JSON, small enough to read in a test.</summary>
internal static class GatewayJsonSamples
{
    public static string Call(string id, string state, string? endReason = null) =>
        $$"""{"id":"{{id}}","callSetupId":"{{id}}","from":"sip:alice@example.com","to":"sip:bob@example.com","state":"{{state}}","endReason":{{(endReason is null ? "null" : $"\"{endReason}\"")}},"createdAt":"2026-12-07T10:00:00Z","updatedAt":"2026-12-07T10:00:01Z","endedAt":null,"legs":[]}""";

    public static string Snapshot(string cursor, bool reset, params string[] calls) =>
        $"event: snapshot\nid: {cursor}\ndata: {{\"subscriptionId\":\"s1\",\"cursor\":\"{cursor}\",\"reset\":{(reset ? "true" : "false")},\"calls\":[{string.Join(',', calls)}]}}\n\n";

    public static string Event(string cursor, string callId, long sequence, string state) =>
        $"event: call\nid: {cursor}\ndata: {{\"subscriptionId\":\"s1\",\"cursor\":\"{cursor}\",\"event\":{{\"id\":\"{callId}.{sequence}\",\"type\":\"call.{state}\",\"sequence\":{sequence},\"occurredAt\":\"2026-12-07T10:00:01Z\",\"reason\":null,\"call\":{Call(callId, state)}}}}}\n\n";

    public static string Dropped(string cursor) =>
        $"event: dropped\nid: {cursor}\ndata: {{\"subscriptionId\":\"s1\",\"dropped\":12,\"cursor\":\"{cursor}\"}}\n\n";
}
