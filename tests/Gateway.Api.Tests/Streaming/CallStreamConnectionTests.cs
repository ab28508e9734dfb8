using System.Collections.Concurrent;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Configuration;
using Gateway.Api.Streaming;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Streaming;

/// <summary>A sink that records what it sends and can be held, like a client that stopped reading.</summary>
internal sealed class RecordingSink : ICallStreamSink
{
    private readonly ConcurrentQueue<object> _sent = new();
    private TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>While set, every send waits for it.</summary>
    public TaskCompletionSource? Hold { get; set; }

    public TimeSpan? HeartbeatInterval => null;

    public IReadOnlyList<object> Sent => [.. _sent];

    public IReadOnlyList<CallEventMessage> Events => [.. _sent.OfType<CallEventMessage>()];

    /// <summary>Completes when a send is first waiting on <see cref="Hold"/>.</summary>
    public Task Entered => _entered.Task;

    public ValueTask SendSnapshotAsync(CallSnapshotMessage message, CancellationToken cancellationToken) => RecordAsync(message, cancellationToken);

    public ValueTask SendEventAsync(CallEventMessage message, CancellationToken cancellationToken) => RecordAsync(message, cancellationToken);

    public async ValueTask<bool> SendDroppedAsync(EventsDroppedMessage message, CancellationToken cancellationToken)
    {
        await RecordAsync(message, cancellationToken);
        return false;
    }

    public ValueTask SendHeartbeatAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private async ValueTask RecordAsync(object message, CancellationToken cancellationToken)
    {
        if (Hold is { } hold)
        {
            _entered.TrySetResult();
            await hold.Task.WaitAsync(cancellationToken);
        }
        _sent.Enqueue(message);
    }

    public async Task WaitForAsync(Func<IReadOnlyList<object>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition(Sent))
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; sent {Sent.Count}");
            await Task.Delay(10, Ct);
        }
    }
}

/// <summary>Connections, their bounded buffers and the scope filters, over a real tracker and log.</summary>
public sealed class CallStreamConnectionTests : IAsyncLifetime
{
    private readonly ServiceProvider _services;
    private readonly MetricCollector<long> _dropped;
    private readonly List<CallStreamConnection> _connections = [];

    public CallStreamConnectionTests()
    {
        var collection = new ServiceCollection().AddMetrics().AddLogging();
        collection.AddSingleton(TimeProvider.System);
        collection.AddSingleton(Options.Create(new StreamingOptions { ConnectionBuffer = 4, ReplayWindow = 1000 }));
        collection.AddInMemoryCalls();
        collection.AddSingleton<CallStreamMetrics>();
        collection.AddSingleton<CallEventLog>();
        collection.AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<CallEventLog>());
        collection.AddSingleton<CallStreamService>();
        _services = collection.BuildServiceProvider();
        _dropped = new MetricCollector<long>(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            CallStreamMetrics.MeterName, "gateway.stream.events.dropped");
    }

    private CallTracker Calls => _services.GetRequiredService<CallTracker>();

    public ValueTask InitializeAsync() => new(_services.StartCallsAsync());

    private CallStreamService Streams => _services.GetRequiredService<CallStreamService>();

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections) await connection.DisposeAsync();
        _dropped.Dispose();
        await _services.DisposeAsync();
    }

    private static ClaimsPrincipal Key(params string[] scopes) =>
        new(new ClaimsIdentity([new Claim(ApiKeyDefaults.KeyNameClaim, "test"), .. scopes.Select(s => new Claim(ApiKeyDefaults.ScopeClaim, s))], "test"));

    private CallStreamConnection Open(RecordingSink sink, params string[] scopes)
    {
        var connection = Streams.Open("c" + _connections.Count, "test", Key(scopes.Length == 0 ? ["*"] : scopes));
        _connections.Add(connection);
        connection.Start(sink);
        return connection;
    }

    private Task RingAsync(string dialog, string from = "sip:bob@example.com", string to = "sip:alice@example.com") =>
        Calls.ApplyPublishedAsync(new ActiveCallItem { DialogStateText = "requested", CallId = dialog, FromUri = from, ToUri = to, FromTag = "f" },
            "item-" + dialog, "/node");

    [Fact]
    public async Task ASlowClientIsToldWhereToResumeWhileTheOthersGetEverythingAndTheTrackerNeverWaits()
    {
        var slowSink = new RecordingSink { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var fastSink = new RecordingSink();
        var slow = Open(slowSink);
        var fast = Open(fastSink);
        await Streams.SubscribeAsync(slow, new CallStreamSubscribeRequest { Scope = "all" }, Ct);
        await Streams.SubscribeAsync(fast, new CallStreamSubscribeRequest { Scope = "all" }, Ct);
        // The slow client's loop has taken its snapshot and is stuck sending it: its buffer (4) is empty.
        await slowSink.Entered;

        // The fast client keeps up (each event is sent before the next one happens); the slow one reads nothing.
        for (var i = 0; i < 10; i++)
        {
            await RingAsync("dialog-" + i);
            await fastSink.WaitForAsync(s => s.OfType<CallEventMessage>().Count() == i + 1, $"event {i + 1} on the fast client");
        }
        await WaitForAsync(() => _dropped.GetMeasurementSnapshot().Sum(m => m.Value) == 6, "six dropped events counted");
        slowSink.Hold.SetResult();
        await slowSink.WaitForAsync(s => s.OfType<EventsDroppedMessage>().Any(), "the drop notice");

        var sent = slowSink.Sent;
        Assert.IsType<CallSnapshotMessage>(sent[0]);
        var delivered = sent.OfType<CallEventMessage>().ToList();
        Assert.Equal(fastSink.Events.Take(4).Select(e => e.Cursor), delivered.Select(e => e.Cursor));
        var notice = Assert.IsType<EventsDroppedMessage>(sent[^1]);
        Assert.Equal(6, notice.Dropped);
        Assert.Equal(delivered[^1].Cursor, notice.Cursor);
        Assert.Equal(0, slow.SubscriptionCount);
        Assert.Equal(1, fast.SubscriptionCount);

        // Resuming from the notice's cursor hands over exactly the six that were dropped.
        var resumed = await Streams.SubscribeAsync(slow, new CallStreamSubscribeRequest { Scope = "all", AfterCursor = notice.Cursor }, Ct);
        await slowSink.WaitForAsync(s => s.OfType<CallEventMessage>().Count() == 10, "the missed events");
        Assert.Equal(fastSink.Events.Select(e => e.Cursor), slowSink.Events.Select(e => e.Cursor));
        Assert.All(slowSink.Events.ToList()[4..], e => Assert.Equal(resumed.SubscriptionId, e.SubscriptionId));
    }

    [Fact]
    public async Task ASubscriptionDroppedBeforeItsFirstEventResumesAfterItsSnapshot()
    {
        await RingAsync("before");
        var connection = Streams.Open("unread", "test", Key("*"));
        _connections.Add(connection);
        var snapshots = new List<CallStreamSubscription>();
        for (var i = 0; i < 4; i++) snapshots.Add(await Streams.SubscribeAsync(connection, new CallStreamSubscribeRequest { Scope = "all" }, Ct));

        await RingAsync("after");
        // Nobody reads yet: the four snapshots fill the buffer, so the event fits none of the subscriptions.
        await WaitForAsync(() => _dropped.GetMeasurementSnapshot().Sum(m => m.Value) == 4, "the event dropped four times");
        var sink = new RecordingSink();
        connection.Start(sink);

        await sink.WaitForAsync(s => s.OfType<EventsDroppedMessage>().Count() == 4, "four drop notices");
        var notices = sink.Sent.OfType<EventsDroppedMessage>().ToDictionary(n => n.SubscriptionId);
        Assert.All(snapshots, started =>
        {
            Assert.Equal(started.Cursor, notices[started.SubscriptionId].Cursor);
            Assert.Equal(1, notices[started.SubscriptionId].Dropped);
        });
        Assert.Empty(sink.Events);
    }

    [Fact]
    public async Task SubscriptionsFollowTheKeysScopeAndTheirOwnAddressOrCall()
    {
        var aliceSink = new RecordingSink();
        var domainSink = new RecordingSink();
        var alice = Open(aliceSink, "alice@example.com");
        var domain = Open(domainSink, "*@other.test");
        await Streams.SubscribeAsync(alice, new CallStreamSubscribeRequest { Scope = "all" }, Ct);
        await Streams.SubscribeAsync(domain, new CallStreamSubscribeRequest { Scope = "address", Address = "sip:dave@other.test" }, Ct);

        await RingAsync("to-alice");
        await RingAsync("to-dave", from: "sip:carol@other.test", to: "<sip:dave@other.test>;tag=1");
        await RingAsync("carol-to-erin", from: "sip:carol@other.test", to: "sip:erin@other.test");
        await RingAsync("dave-to-alice", from: "sip:dave@other.test", to: "sip:alice@example.com");

        await aliceSink.WaitForAsync(s => s.OfType<CallEventMessage>().Count() == 2, "alice's two calls");
        await domainSink.WaitForAsync(s => s.OfType<CallEventMessage>().Count() == 2, "dave's two calls");
        Assert.Equal([CallStateMachine.PlainCallId("to-alice"), CallStateMachine.PlainCallId("dave-to-alice")], aliceSink.Events.Select(e => e.Event.Call.Id));
        Assert.Equal([CallStateMachine.PlainCallId("to-dave"), CallStateMachine.PlainCallId("dave-to-alice")], domainSink.Events.Select(e => e.Event.Call.Id));

        var forbidden = await Assert.ThrowsAsync<CallStreamException>(() => Streams.SubscribeAsync(alice, new CallStreamSubscribeRequest { Scope = "call", CallId = "to-dave" }, Ct));
        Assert.Equal(CallStreamErrorKind.Forbidden, forbidden.Kind);
        await Streams.SubscribeAsync(domain, new CallStreamSubscribeRequest { Scope = "call", CallId = "carol-to-erin" }, Ct);
        await RingAsync("to-dave", from: "sip:carol@other.test", to: "<sip:dave@other.test>;tag=1");
        await Calls.ApplyRetractedAsync("item-carol-to-erin", Ct);
        await domainSink.WaitForAsync(s => s.OfType<CallEventMessage>().Count() == 3, "the call subscription's event");
        Assert.Equal("call.ended", domainSink.Events[^1].Event.Type);
        Assert.Equal(CallStateMachine.PlainCallId("carol-to-erin"), domainSink.Events[^1].Event.Call.Id);
    }

    [Fact]
    public async Task AFullConnectionRefusesNewSubscriptionsAndTheLimitHolds()
    {
        var connection = Streams.Open("limited", "test", Key("*"), maxSubscriptions: 1);
        _connections.Add(connection);
        await Streams.SubscribeAsync(connection, new CallStreamSubscribeRequest(), Ct);

        var limit = await Assert.ThrowsAsync<CallStreamException>(() => Streams.SubscribeAsync(connection, new CallStreamSubscribeRequest(), Ct));
        Assert.Equal(CallStreamErrorKind.Busy, limit.Kind);
        var other = Streams.Open("unread", "test", Key("*"));
        _connections.Add(other);
        for (var i = 0; i < 4; i++) await Streams.SubscribeAsync(other, new CallStreamSubscribeRequest(), Ct);
        var full = await Assert.ThrowsAsync<CallStreamException>(() => Streams.SubscribeAsync(other, new CallStreamSubscribeRequest(), Ct));
        Assert.Contains("messages waiting to be sent", full.Message, StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(10, Ct);
        }
    }
}
