using System.Text;
using Gateway.Api.Configuration;
using Gateway.Api.Idempotency;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Idempotency;

/// <summary>The middleware on a bare <see cref="HttpContext"/>: what it puts on the wire and when, which the test host's
/// client (it buffers and measures every body) cannot show. Without a length Kestrel sends the buffered response as
/// chunks and a terminating chunk in a second write, and the client waits for that one; and a response stored before it
/// is sent makes the client wait for a commit it does not need.</summary>
public sealed class IdempotencyMiddlewareTests
{
    [Fact]
    public async Task TheFirstResponseIsSentWithItsLengthNotAsChunks()
    {
        var body = """{"id":"c-1","state":"requested"}"""u8.ToArray();
        var middleware = Middleware(async context =>
        {
            context.Response.StatusCode = 202;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });
        var context = Request();
        var wire = new MemoryStream();
        context.Response.Body = wire;

        await middleware.InvokeAsync(context);

        Assert.Equal(body.Length, context.Response.ContentLength);
        Assert.Equal(body, wire.ToArray());
    }

    [Fact]
    public async Task TheResponseIsOnTheWireBeforeItIsStored()
    {
        var body = """{"id":"c-1","state":"requested"}"""u8.ToArray();
        var wire = new MemoryStream();
        var store = new ObservedStore(onComplete: () => Assert.Equal(body, wire.ToArray()));
        var middleware = Middleware(async context =>
        {
            context.Response.StatusCode = 202;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }, store);
        var context = Request();
        context.Response.Body = wire;

        await middleware.InvokeAsync(context);

        Assert.Equal(1, store.Completed);
        Assert.IsType<IdempotencyBegin.Completed>(await store.TryBeginAsync("-\nk-1", "any", CancellationToken.None));
    }

    [Fact]
    public async Task AResponseThatCannotBeStoredStillReachesTheClientAndFreesTheKey()
    {
        var body = """{"id":"c-1","state":"requested"}"""u8.ToArray();
        var store = new ObservedStore(onComplete: () => throw new IOException("disk I/O error"));
        var middleware = Middleware(async context =>
        {
            context.Response.StatusCode = 202;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }, store);
        var context = Request();
        var wire = new MemoryStream();
        context.Response.Body = wire;

        await middleware.InvokeAsync(context);

        Assert.Equal(202, context.Response.StatusCode);
        Assert.Equal(body, wire.ToArray());
        Assert.IsType<IdempotencyBegin.Acquired>(await store.TryBeginAsync("-\nk-1", "any", CancellationToken.None));
    }

    [Fact]
    public async Task ARepeatWhileTheResponseIsBeingStoredWaitsAndGetsItReplayed()
    {
        var storing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new ObservedStore(onCompleteAsync: async () =>
        {
            storing.SetResult();
            await release.Task;
        });
        var executions = 0;
        var middleware = Middleware(async context =>
        {
            Interlocked.Increment(ref executions);
            context.Response.StatusCode = 202;
            await context.Response.Body.WriteAsync("""{"id":"c-1"}"""u8.ToArray(), context.RequestAborted);
        }, store);
        var first = Request();
        first.Response.Body = new MemoryStream();
        var firstDone = middleware.InvokeAsync(first);
        await storing.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var repeat = Request();
        var repeatWire = new MemoryStream();
        repeat.Response.Body = repeatWire;
        var repeatDone = middleware.InvokeAsync(repeat);
        Assert.False(repeatDone.IsCompleted);
        release.SetResult();
        await Task.WhenAll(firstDone, repeatDone).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(1, executions);
        Assert.Equal("true", repeat.Response.Headers[IdempotencyMiddleware.ReplayedHeader].ToString());
        Assert.Equal("""{"id":"c-1"}""", Encoding.UTF8.GetString(repeatWire.ToArray()));
    }

    private static IdempotencyMiddleware Middleware(RequestDelegate next, IIdempotencyStore? store = null)
    {
        var services = new ServiceCollection().AddOptions().AddProblemDetails().BuildServiceProvider();
        return new IdempotencyMiddleware(next, store ?? InMemoryStore(),
            Microsoft.Extensions.Options.Options.Create(new IdempotencyOptions()), [], services.GetRequiredService<IProblemDetailsService>(),
            NullLogger<IdempotencyMiddleware>.Instance);
    }

    private static InMemoryIdempotencyStore InMemoryStore() =>
        new(Microsoft.Extensions.Options.Options.Create(new IdempotencyOptions()), TimeProvider.System);

    /// <summary>The in-memory store, with a hook run when a response is about to be stored.</summary>
    private sealed class ObservedStore(Action? onComplete = null, Func<Task>? onCompleteAsync = null) : IIdempotencyStore
    {
        private readonly InMemoryIdempotencyStore _inner = InMemoryStore();

        public int Completed { get; private set; }

        public ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken) =>
            _inner.TryBeginAsync(key, fingerprint, cancellationToken);

        public async ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken)
        {
            onComplete?.Invoke();
            if (onCompleteAsync is not null) await onCompleteAsync();
            await _inner.CompleteAsync(key, fingerprint, response, ttl, cancellationToken);
            Completed++;
        }

        public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken) => _inner.ReleaseAsync(key, cancellationToken);
    }

    private static DefaultHttpContext Request()
    {
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(null, new EndpointMetadataCollection(new IdempotentAttribute()), "create"));
        context.Request.Method = "POST";
        context.Request.Path = "/calls";
        context.Request.Headers[IdempotencyMiddleware.HeaderName] = "k-1";
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("""{"from":"sip:alice@example.com","to":"sip:bob@example.com"}"""));
        return context;
    }
}
