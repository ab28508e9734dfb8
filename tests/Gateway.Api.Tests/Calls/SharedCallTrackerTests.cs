using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls;

/// <summary>Two trackers on one Redis, as two gateway replicas run them: writes that race, events every replica
/// publishes, snapshots, and what the lease holder finishes for a replica that died.</summary>
[Collection(RedisCollection.Name)]
public sealed class SharedCallTrackerTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly FakeTimeProvider _time = new(T0);
    private readonly List<Replica> _replicas = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    private async Task<Replica> StartReplicaAsync(bool leader, TimeProvider? time = null)
    {
        var replica = new Replica(RedisCollection.Connect(redis, _prefix), leader, time ?? TimeProvider.System);
        _replicas.Add(replica);
        await replica.Tracker.StartAsync(Ct);
        return replica;
    }

    [Fact]
    public async Task TwoReplicasChangingOneCallAtOnceLoseNoChangeAndNumberEveryEventOnce()
    {
        var a = await StartReplicaAsync(leader: true);
        var b = await StartReplicaAsync(leader: false);
        var item = Item("sip-1", Gateway.Xmpp.ActiveCalls.ActiveCallDialogState.Requested);
        await a.Tracker.ApplyPublishedAsync(item, "item-sip-1", "/example.com/bob", Ct);
        var id = CallStateMachine.PlainCallId("sip-1");

        await Task.WhenAll(new[] { a, b }.Select(replica => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
                await replica.Tracker.UpdateAsync(id, c => new CallUpdate(CallStateMachine.RequestTransfer(c, DateTimeOffset.UtcNow)), Ct);
        }, Ct)));

        var events = await a.Tracker.EventsAsync(id, 0, Ct);
        Assert.Equal(Enumerable.Range(1, 51).Select(s => (long)s), events.Select(e => e.Sequence));
        Assert.Equal(50, events.Count(e => e.Type == CallStateMachine.TransferRequested));
        Assert.Equal(51, (await b.Tracker.FindAsync(id, Ct))!.ToResource() is { } _ ? events.Count : 0);
    }

    [Fact]
    public async Task EveryReplicaPublishesEveryReplicasEventsInLogOrder()
    {
        var a = await StartReplicaAsync(leader: true);
        var b = await StartReplicaAsync(leader: false);

        await a.Tracker.ApplyPublishedAsync(Item("sip-1", Gateway.Xmpp.ActiveCalls.ActiveCallDialogState.Requested), "item-1", "/example.com/bob", Ct);
        await b.Tracker.BeginCreateAsync("abcd1234", "sip:alice@example.com", "sip:bob@example.com", "key-1", cancellationToken: Ct);
        await b.Tracker.CompleteCreateAsync("abcd1234", "abcd1234", Ct);
        var head = (await ((ICallStore)a.Store).OpenAsync(Ct)).Position;

        await a.Events.WaitForAsync(head);
        await b.Events.WaitForAsync(head);
        Assert.Equal(Enumerable.Range(1, (int)head).Select(p => (long)p), a.Events.Positions);
        Assert.Equal(a.Events.Ids, b.Events.Ids);
        Assert.Contains("abcd1234.1", a.Events.Ids);
        Assert.Contains(CallStateMachine.PlainCallId("sip-1") + ".1", b.Events.Ids);
    }

    [Fact]
    public async Task ASnapshotOnOneReplicaShowsWhatTheOtherCommittedAsOfItsPosition()
    {
        var a = await StartReplicaAsync(leader: true);
        var b = await StartReplicaAsync(leader: false);
        await a.Tracker.ApplyPublishedAsync(Item("sip-1", Gateway.Xmpp.ActiveCalls.ActiveCallDialogState.Requested), "item-1", "/example.com/bob", Ct);

        var (ids, position) = await b.Tracker.SnapshotAsync(_ => true, null, (calls, head) => (calls.Select(c => c.Id).ToList(), head), Ct);

        Assert.Equal([CallStateMachine.PlainCallId("sip-1")], ids);
        Assert.Equal((await ((ICallStore)a.Store).OpenAsync(Ct)).Position, position);
        // Published here means handed to every consumer's queue in log order (a consumer's pump may still be reading it),
        // so a stream that subscribes with this snapshot gets exactly the events after its position.
        Assert.True(b.PublishedPosition >= position, "the snapshot waits until this replica's log has reached its position");
        await b.Events.WaitForAsync(position);
    }

    [Fact]
    public async Task ASnapshotOfOneCallOnOneReplicaShowsThatCallAsTheOtherCommittedIt()
    {
        var a = await StartReplicaAsync(leader: true);
        var b = await StartReplicaAsync(leader: false);
        await a.Tracker.ApplyPublishedAsync(Item("sip-1", Gateway.Xmpp.ActiveCalls.ActiveCallDialogState.Requested), "item-1", "/example.com/bob", Ct);
        await a.Tracker.ApplyPublishedAsync(Item("sip-2", Gateway.Xmpp.ActiveCalls.ActiveCallDialogState.Requested), "item-2", "/example.com/bob", Ct);
        var id = CallStateMachine.PlainCallId("sip-1");

        var (ids, position) = await b.Tracker.SnapshotAsync(_ => true, id, (calls, head) => (calls.Select(c => c.Id).ToList(), head), Ct);

        Assert.Equal([id], ids);
        Assert.Equal((await ((ICallStore)a.Store).OpenAsync(Ct)).Position, position);
    }

    [Fact]
    public async Task ACreateBegunByAReplicaThatDiedIsSettledByTheLeaseHolderAsOfUnknownOutcome()
    {
        var dead = await StartReplicaAsync(leader: false, _time);
        var holder = await StartReplicaAsync(leader: true, _time);
        await dead.Tracker.BeginCreateAsync("abcd1234", "sip:alice@example.com", "sip:bob@example.com", "key-1", cancellationToken: Ct);
        await dead.DisposeAsync();
        _replicas.Remove(dead);

        await holder.Tracker.TickAsync();
        Assert.True((await holder.Store.GetAsync("abcd1234", Ct))!.CreateInFlight, "a create as young as its request budget may still be running");

        _time.Advance(new HttpApiOptions().RequestTimeout * 2 + TimeSpan.FromSeconds(31));
        await holder.Tracker.TickAsync();

        var settled = (await holder.Store.GetAsync("abcd1234", Ct))!;
        Assert.False(settled.CreateInFlight);
        Assert.NotNull(settled.OutcomeUnknownSince);
        await Assert.ThrowsAsync<CreateOutcomeUnknownException>(() =>
            holder.Tracker.BeginCreateAsync("abcd1234", "sip:alice@example.com", "sip:bob@example.com", "key-1", cancellationToken: Ct));
    }

    [Fact]
    public async Task OnlyTheLeaseHolderAppliesDeadlines()
    {
        var standby = await StartReplicaAsync(leader: false, _time);
        var holder = new Replica(RedisCollection.Connect(redis, _prefix), leader: false, _time);
        _replicas.Add(holder);
        await holder.Tracker.StartAsync(Ct);
        // A call with a setup deadline, created through the stand-by replica.
        await standby.Tracker.BeginCreateAsync("abcd1234", "sip:alice@example.com", "sip:bob@example.com", "key-1", cancellationToken: Ct);
        await standby.Tracker.CompleteCreateAsync("abcd1234", "abcd1234", Ct);
        _time.Advance(new CallsOptions().SetupTimeout + TimeSpan.FromSeconds(1));

        await standby.Tracker.TickAsync();
        await holder.Tracker.TickAsync();
        Assert.Equal(CallState.Requested, (await standby.Store.GetAsync("abcd1234", Ct))!.State);

        holder.Leadership.Grant();
        await holder.Tracker.TickAsync(); // takes its turn: sweeps and schedules the live calls
        await holder.Tracker.TickAsync();
        var ended = (await standby.Store.GetAsync("abcd1234", Ct))!;
        Assert.Equal(CallState.Ended, ended.State);
        Assert.Equal(CallEndReason.SetupTimeout, ended.EndReason);
    }

    /// <summary>One replica's call state: its own Redis connection, store, publisher (with a recording consumer) and tracker.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly RedisConnection _connection;
        private readonly CallEventPublisher _publisher;

        public Replica(RedisConnection connection, bool leader, TimeProvider time)
        {
            _connection = connection;
            Store = new RedisCallStore(_connection, NullLogger<RedisCallStore>.Instance);
            Leadership = new FakeLeadership(leader);
            _publisher = new CallEventPublisher([Events], new PublishedHead(), NullLogger<CallEventPublisher>.Instance);
            Tracker = new CallTracker(Store, _publisher, Leadership, Options.Create(new CallsOptions { Store = CallStoreKind.Redis }),
                Options.Create(new HttpApiOptions()), time, NullLogger<CallTracker>.Instance);
        }

        public RedisCallStore Store { get; }

        public FakeLeadership Leadership { get; }

        public RecordingConsumer Events { get; } = new();

        /// <summary>The position of the last event this replica's log tail has published to its consumers.</summary>
        public long PublishedPosition => _publisher.Head;

        public CallTracker Tracker { get; }

        public async ValueTask DisposeAsync()
        {
            await Tracker.StopAsync(CancellationToken.None);
            await Tracker.DisposeAsync();
            await _publisher.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }

    private sealed class RecordingConsumer : ICallEventConsumer
    {
        private readonly Lock _gate = new();
        private readonly List<StoredCallEvent> _events = [];

        public string Name => "recording";

        public IReadOnlyList<long> Positions
        {
            get { lock (_gate) return [.. _events.Select(e => e.Position)]; }
        }

        public long Last
        {
            get { lock (_gate) return _events.Count == 0 ? 0 : _events[^1].Position; }
        }

        public IReadOnlyList<string> Ids
        {
            get { lock (_gate) return [.. _events.Select(e => e.Event.Id)]; }
        }

        public ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
        {
            lock (_gate) _events.AddRange(batch);
            return ValueTask.CompletedTask;
        }

        public async Task WaitForAsync(long position)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (Last < position)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"Events up to {position} were not published; last {Last}.");
                await Task.Delay(20);
            }
        }
    }
}
