using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Webhook endpoints answered by <see cref="Answer"/>; each request is recorded with the fake time it arrived at.</summary>
public sealed class ScriptedEndpoints(FakeTimeProvider time) : HttpMessageHandler
{
    public sealed record Received(string Url, DateTimeOffset At, string MessageId, string Body);

    private readonly ConcurrentQueue<Received> _received = new();

    public Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Answer { get; set; } =
        (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));

    /// <summary>Holds the request until it is cancelled (by the attempt's timeout or the dispatcher's stop).</summary>
    public static async Task<HttpResponseMessage> NeverAnswer(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return new HttpResponseMessage(HttpStatusCode.OK);
    }

    public IReadOnlyList<Received> To(string? url) => [.. _received.Where(r => url is null || r.Url == url)];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = await request.Content!.ReadAsStringAsync(cancellationToken);
        _received.Enqueue(new Received(request.RequestUri!.GetLeftPart(UriPartial.Path), time.GetUtcNow(), request.Headers.GetValues("webhook-id").Single(), body));
        return await Answer(request, cancellationToken);
    }
}

/// <summary>Hands every client the one handler (the dispatcher asks for its named client per attempt).</summary>
public sealed class ClientFactory(HttpMessageHandler handler) : IHttpClientFactory
{
    public HttpClient CreateClient(string name) => new(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
}
