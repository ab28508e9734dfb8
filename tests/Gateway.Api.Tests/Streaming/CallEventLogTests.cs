using System.Collections.Concurrent;
using System.Text.Json;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Configuration;
using Gateway.Api.Streaming;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Streaming;

/// <summary>A log reader that records what it is handed (fakes are fine here: the hub and SSE tests use the real ones).</summary>
internal sealed class RecordingReader : ICallEventLogReader
{
    private readonly ConcurrentQueue<LoggedEvent> _received = new();

    public IReadOnlyList<LoggedEvent> Backlog { get; private set; } = [];

    public IReadOnlyList<LoggedEvent> Received => [.. _received];

    public void Attached(IReadOnlyList<LoggedEvent> backlog)
    {
        Backlog = backlog;
        foreach (var e in backlog) _received.Enqueue(e);
    }

    public void Offer(LoggedEvent e) => _received.Enqueue(e);

    public async Task WaitForAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_received.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"received {_received.Count} of {count} events");
            await Task.Delay(10, Ct);
        }
    }
}

/// <summary>The gateway-wide event log: a consumer of the publisher, cursors, replay window, readers.</summary>
public sealed class CallEventLogTests : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Plain = new(JsonSerializerDefaults.Web);
    private static readonly JsonSerializerOptions Converting = new(Plain) { Converters = { new CallEventMessageConverter() } };
    private readonly List<ServiceProvider> _hosts = [];

    /// <summary>A tracker on the in-memory store whose publisher feeds a log with <paramref name="options"/>.</summary>
    private async Task<(CallTracker Calls, CallEventLog Log)> StartAsync(StreamingOptions? options = null)
    {
        var services = new ServiceCollection().AddMetrics().AddLogging()
            .AddInMemoryCalls(new CallsOptions { Store = CallStoreKind.Memory, MaxCalls = 100_000 })
            .AddSingleton(Options.Create(options ?? new StreamingOptions { ReplayWindow = 16 }))
            .AddSingleton<CallStreamMetrics>()
            .AddSingleton<CallEventLog>()
            .AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<CallEventLog>())
            .BuildServiceProvider();
        _hosts.Add(services);
        return (await services.StartCallsAsync(), services.GetRequiredService<CallEventLog>());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts) await host.DisposeAsync();
    }

    /// <summary>A call not placed through the API: one leg rings, is answered, ends (three events).</summary>
    private static async Task RunCallAsync(CallTracker calls, string dialog)
    {
        var leg = new ActiveCallItem { DialogStateText = "requested", CallId = dialog, FromUri = "sip:bob@example.com", ToUri = "sip:alice@example.com", FromTag = "f" };
        await calls.ApplyPublishedAsync(leg, "item-" + dialog, Node);
        await calls.ApplyPublishedAsync(leg with { DialogStateText = "confirmed", ToTag = "t" }, "item-" + dialog, Node);
        await calls.ApplyRetractedAsync("item-" + dialog);
    }

    [Fact]
    public async Task EveryCommittedEventIsLoggedInCommitOrderWithGapFreePositionsAndEpochCursors()
    {
        var (calls, _log) = await StartAsync();
        var reader = new RecordingReader();
        Assert.Equal(AttachOutcome.Attached, _log.Attach(reader, 0));
        await RunCallAsync(calls, "d1");
        await RunCallAsync(calls, "d2");

        await reader.WaitForAsync(6);

        Assert.Equal(new StreamCursor(_log.Epoch, 6), _log.Head);
        Assert.Matches("^[0-9a-f]{10}$", _log.Epoch);
        Assert.Equal([1L, 2, 3, 4, 5, 6], reader.Received.Select(e => e.Position));
        Assert.Equal(reader.Received.Select(e => $"{_log.Epoch}-{e.Position}"), reader.Received.Select(e => e.Cursor));
        var expected = (await calls.EventsAsync(CallStateMachine.PlainCallId("d1"), 0, Ct)).Concat(await calls.EventsAsync(CallStateMachine.PlainCallId("d2"), 0, Ct));
        Assert.Equal(expected.Select(e => e.Id), reader.Received.Select(e => e.Event.Id));
    }

    [Fact]
    public async Task ConcurrentInputsLoseNothingAndKeepEveryCallsOrder()
    {
        var (calls, log) = await StartAsync(new StreamingOptions { ReplayWindow = 100_000 });
        var reader = new RecordingReader();
        log.Attach(reader, 0);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++) await RunCallAsync(calls, $"t{t}-c{i}");
        }, Ct)));

        await reader.WaitForAsync(2400);
        var received = reader.Received;
        Assert.Equal(2400, received.Count);
        Assert.Equal(Enumerable.Range(1, 2400).Select(i => (long)i), received.Select(e => e.Position));
        foreach (var call in received.GroupBy(e => e.Event.Call.Id))
            Assert.Equal([1L, 2, 3], call.Select(e => e.Event.Sequence));
    }

    [Fact]
    public async Task ASnapshotTakenWithTheHeadShowsEveryLiveCallExactlyAsItsLastEventUpToThatCursor()
    {
        var (tracker, _log) = await StartAsync();
        var reader = new RecordingReader();
        _log.Attach(reader, 0);
        using var stop = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++) await RunCallAsync(tracker, "busy-" + i);
        }, Ct);
        await reader.WaitForAsync(30);

        var (calls, head) = await tracker.SnapshotAsync(_ => true, null, (calls, position) => (calls, new StreamCursor(_log.Epoch, position)), Ct);
        await stop.CancelAsync();
        await publisher;

        await reader.WaitForAsync((int)head.Position);
        var upToHead = reader.Received.Where(e => e.Position <= head.Position).ToList();
        var lastById = upToHead.GroupBy(e => e.Event.Call.Id).ToDictionary(g => g.Key, g => g.Last().Event);
        foreach (var call in calls)
        {
            Assert.True(lastById.TryGetValue(call.Id, out var last), $"{call.Id} is in the snapshot but none of its events is at or before {head}");
            Assert.Equal(last.Call.State, call.State);
        }
        // And every call live at the head is in the snapshot, and no other.
        Assert.Equal(lastById.Where(c => c.Value.Type != "call.ended").Select(c => c.Key).Order(), calls.Select(c => c.Id).Order());
    }

    [Fact]
    public async Task AttachingAfterAPositionHandsOverTheMissedEventsThenOffersTheRestInOrder()
    {
        var (registry, log) = await StartAsync(new StreamingOptions { ReplayWindow = 100 });
        var early = new RecordingReader();
        log.Attach(early, 0);
        for (var i = 0; i < 4; i++) await RunCallAsync(registry, "before-" + i);
        await early.WaitForAsync(12);

        var late = new RecordingReader();
        Assert.Equal(AttachOutcome.Attached, log.Attach(late, 5));
        for (var i = 0; i < 3; i++) await RunCallAsync(registry, "after-" + i);

        await late.WaitForAsync(16);
        Assert.Equal(Enumerable.Range(6, 7).Select(i => (long)i), late.Backlog.Select(e => e.Position));
        Assert.Equal(Enumerable.Range(6, 16).Select(i => (long)i), late.Received.Select(e => e.Position));
    }

    [Fact]
    public async Task PositionsOlderThanTheReplayWindowOrAheadOfTheLogCannotBeReplayed()
    {
        var (calls, _log) = await StartAsync();
        var reader = new RecordingReader();
        _log.Attach(reader, 0);
        for (var i = 0; i < 7; i++) await RunCallAsync(calls, "w" + i);
        await reader.WaitForAsync(21);

        Assert.Equal(6, _log.OldestRetained);
        Assert.Equal(AttachOutcome.OlderThanWindow, _log.Attach(new RecordingReader(), 0));
        Assert.Equal(AttachOutcome.OlderThanWindow, _log.Attach(new RecordingReader(), 4));
        var oldest = new RecordingReader();
        Assert.Equal(AttachOutcome.Attached, _log.Attach(oldest, 5));
        Assert.Equal(Enumerable.Range(6, 16).Select(i => (long)i), oldest.Backlog.Select(e => e.Position));
        Assert.Equal(AttachOutcome.AheadOfLog, _log.Attach(new RecordingReader(), 22));
        Assert.Equal(AttachOutcome.Attached, _log.Attach(new RecordingReader(), 21));
    }

    [Fact]
    public async Task ADetachedReaderIsOfferedNothingMore()
    {
        var (calls, _log) = await StartAsync();
        var reader = new RecordingReader();
        var other = new RecordingReader();
        _log.Attach(reader, 0);
        _log.Attach(other, 0);
        await RunCallAsync(calls, "first");
        await reader.WaitForAsync(3);

        _log.Detach(reader);
        await RunCallAsync(calls, "second");

        await other.WaitForAsync(6);
        Assert.Equal(3, reader.Received.Count);
        Assert.Equal(1, _log.ReaderCount);
    }

    [Fact]
    public async Task AnEventMessageWrittenFromTheCachedEventJsonReadsExactlyAsTheSerializerWritesIt()
    {
        var (calls, _log) = await StartAsync();
        var reader = new RecordingReader();
        _log.Attach(reader, 0);
        await RunCallAsync(calls, "json");
        await reader.WaitForAsync(3);
        var logged = reader.Received[1];
        var message = new CallEventMessage("sub-1", logged.Cursor, logged.Event) { Logged = logged };

        var expected = JsonSerializer.Serialize(message, Plain);
        Assert.Equal(expected, JsonSerializer.Serialize(message, Converting));
        Assert.Equal(expected, JsonSerializer.Serialize(message, Converting));
        Assert.Same(logged.Utf8Json(Converting), logged.Utf8Json(Converting));
        Assert.Contains("\"subscriptionId\":\"sub-1\"", expected, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0a1b2c3d4e-0", "0a1b2c3d4e", 0L)]
    [InlineData("0a1b2c3d4e-42", "0a1b2c3d4e", 42L)]
    [InlineData("Epoch7-9223372036854775807", "Epoch7", long.MaxValue)]
    public void ACursorReadsBackAsItsEpochAndPosition(string text, string epoch, long position)
    {
        Assert.True(StreamCursor.TryParse(text, out var cursor));
        Assert.Equal(new StreamCursor(epoch, position), cursor);
        Assert.Equal(text, cursor.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("42")]
    [InlineData("-42")]
    [InlineData("abc-")]
    [InlineData("abc--1")]
    [InlineData("abc-+1")]
    [InlineData("abc-1.5")]
    [InlineData("ab c-1")]
    [InlineData("abc-99999999999999999999")]
    [InlineData("abcdefghijabcdefghijabcdefghijabcdefghij-123456789012")]
    public void MalformedCursorsAreRejected(string? text) => Assert.False(StreamCursor.TryParse(text, out _));
}
