using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>A real webhook endpoint: Kestrel on 127.0.0.1, recording every request (headers and raw body) before it
/// answers with <see cref="Respond"/>. Start it on port 0 for a free port, or on a port known in advance to bring an
/// endpoint "back" that was down.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    public sealed record Request(string Path, IReadOnlyDictionary<string, string> Headers, byte[] RawBody)
    {
        public string Body => Encoding.UTF8.GetString(RawBody);
        public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";
    }

    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public int Port { get; private set; }

    /// <summary>The answer to each request (after it is recorded): a status code, possibly after a delay.</summary>
    public Func<Request, CancellationToken, Task<int>> Respond { get; set; } = (_, _) => Task.FromResult(StatusCodes.Status204NoContent);

    public IReadOnlyList<Request> Requests => [.. _requests];

    public string Url(string path = "/hook") => $"http://127.0.0.1:{Port}{path}";

    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var request = new Request(context.Request.Path, context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body.ToArray());
            receiver._requests.Enqueue(request);
            var status = await receiver.Respond(request, context.RequestAborted);
            context.Response.StatusCode = status;
            // A redirect to this receiver itself, so a client that followed it would show up as a second request.
            if (status is >= 300 and < 400) context.Response.Headers.Location = "/redirected";
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        receiver.Port = new Uri(app.Urls.First()).Port;
        return receiver;
    }

    /// <summary>Waits (generously) until the recorded requests satisfy <paramref name="until"/>.</summary>
    public async Task<IReadOnlyList<Request>> WaitForAsync(Func<IReadOnlyList<Request>, bool> until, string what, int seconds = 30)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var requests = Requests;
            if (until(requests)) return requests;
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(seconds),
                $"the receiver never got {what}; it got {requests.Count}: {string.Join(" | ", requests.Select(r => r.Body.Length > 120 ? r.Body[..120] : r.Body))}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
