using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls.Store;

/// <summary>The store contract on a real redis-server, and what only a store shared by replicas does: revisions, one
/// log for every writer, a tail, atomic snapshots.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisCallStoreTests(RedisFixture redis) : CallStoreContract
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly List<RedisConnection> _connections = [];

    protected override ICallStore CreateStore(CallsOptions options) => NewReplica();

    /// <summary>Another process on the same Redis and prefix: its own connection, the same data.</summary>
    private RedisCallStore NewReplica()
    {
        var connection = RedisCollection.Connect(redis, _prefix);
        _connections.Add(connection);
        return new RedisCallStore(connection, NullLogger<RedisCallStore>.Instance);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var connection in _connections) await connection.DisposeAsync();
    }

    [Fact]
    public async Task ReadsCarryTheRevisionEachWriteCounts()
    {
        var (call, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        await Store.CommitAsync(Commit(call, events[..1]), Ct);
        var first = await Store.GetAsync(call.Id, Ct);
        await Store.CommitAsync(Commit(first!, events[1..]), Ct);

        Assert.Equal(1, first!.Version);
        Assert.Equal(2, (await Store.GetAsync(call.Id, Ct))!.Version);
    }

    [Fact]
    public async Task ACommitWorkedOutFromAnOlderRevisionIsRefusedAndChangesNothing()
    {
        var ringing = Ringing("sip-1", T0);
        await Store.CommitAsync(Commit(ringing), Ct);
        var read = (await Store.GetAsync(ringing.Call.Id, Ct))!;
        // Replica B changes the call first.
        var other = NewReplica();
        await other.CommitAsync(new CallCommit { Calls = [read with { UpdatedAt = T0.AddSeconds(1) }], Expected = [new(read.Id, read.Version)] }, Ct);

        var stale = read with { UpdatedAt = T0.AddSeconds(2) };
        var conflict = await Assert.ThrowsAsync<CallCommitConflictException>(async () =>
            await Store.CommitAsync(new CallCommit { Calls = [stale], Events = ringing.Events, Expected = [new(read.Id, read.Version)] }, Ct));

        Assert.Equal(read.Id, conflict.CallId);
        Assert.Equal(T0.AddSeconds(1), (await Store.GetAsync(read.Id, Ct))!.UpdatedAt);
        Assert.Equal(ringing.Events.Length, (await Store.OpenAsync(Ct)).Position);
    }

    [Fact]
    public async Task ANewCallIsNotWrittenOverOneAnotherReplicaCreatedMeanwhile()
    {
        var other = NewReplica();
        await other.CommitAsync(new CallCommit { Calls = [Creating("abcd1234", T0)], Expected = [new("abcd1234", 0)] }, Ct);

        await Assert.ThrowsAsync<CallCommitConflictException>(async () =>
            await Store.CommitAsync(new CallCommit { Calls = [Creating("abcd1234", T0.AddSeconds(1))], Expected = [new("abcd1234", 0)] }, Ct));
        Assert.Equal(T0, (await Store.GetAsync("abcd1234", Ct))!.CreatedAt);
    }

    [Fact]
    public async Task EveryReplicaSeesOneLogWithOneEpochAndGapFreePositions()
    {
        var other = NewReplica();
        var mine = Ringing("sip-1", T0);
        var theirs = Ringing("sip-2", T0);
        await Store.CommitAsync(Commit(mine), Ct);
        await other.CommitAsync(Commit(theirs), Ct);

        var head = await Store.OpenAsync(Ct);
        Assert.Equal(head, await other.OpenAsync(Ct));
        Assert.Equal(
            [.. mine.Events.Select(e => e.Id), .. theirs.Events.Select(e => e.Id)],
            (await other.ReadLogAsync(0, 100, Ct)).Select(e => e.Event.Id));
        Assert.Equal(Enumerable.Range(1, (int)head.Position).Select(p => (long)p), (await Store.ReadLogAsync(0, 100, Ct)).Select(e => e.Position));
    }

    [Fact]
    public async Task TheTailDeliversEveryReplicasCommitsInPositionOrder()
    {
        var other = (ISharedCallStore)NewReplica();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var received = new List<StoredCallEvent>();
        var expected = 0;
        var tail = Task.Run(async () =>
        {
            await foreach (var batch in other.TailAsync(0, stop.Token))
            {
                received.AddRange(batch);
                if (received.Count >= Volatile.Read(ref expected) && expected > 0) return;
            }
        }, Ct);

        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            var store = w == 0 ? Store : NewReplica();
            for (var i = 0; i < 20; i++) await store.CommitAsync(Commit(Ringing($"sip-{w}-{i}", T0)), Ct);
        }, Ct)).ToList();
        await Task.WhenAll(writers);
        Volatile.Write(ref expected, (int)(await Store.OpenAsync(Ct)).Position);
        // A commit with no event of its own rings the tail too, in case the last ring came before the count was set.
        await Store.CommitAsync(Commit(Ringing("sip-last", T0)), Ct);
        await tail.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(Enumerable.Range(1, received.Count).Select(p => (long)p), received.Select(e => e.Position));
    }

    [Fact]
    public async Task ASnapshotIsTheLiveCallsWithThePositionTheyAreAsOf()
    {
        var live = Ringing("sip-1", T0);
        var (ended, endedEvents) = Ended("sip-2", T0, T0.AddSeconds(5));
        await Store.CommitAsync(new CallCommit { Calls = [live.Call, ended], Events = [.. live.Events, .. endedEvents] }, Ct);

        var (calls, position) = await ((ISharedCallStore)Store).SnapshotAsync(Ct);

        Assert.Equal([live.Call.Id], calls.Select(c => c.Id));
        Assert.Equal(live.Events.Length + endedEvents.Count, position);
    }

    [Fact]
    public async Task ASnapshotOfOneCallIsThatCallWithThePositionItIsAsOf()
    {
        var (ended, endedEvents) = Ended("sip-2", T0, T0.AddSeconds(5));
        await Store.CommitAsync(Commit(ended, endedEvents), Ct);
        var live = Ringing("sip-1", T0);
        await Store.CommitAsync(Commit(live), Ct);
        var shared = (ISharedCallStore)Store;

        var (call, position) = await shared.SnapshotCallAsync(ended.Id, Ct);
        var (unknown, sameHead) = await shared.SnapshotCallAsync("nobody", Ct);

        AssertSame(ended, call);
        Assert.Equal(endedEvents.Count + live.Events.Length, position);
        Assert.Null(unknown);
        Assert.Equal(position, sameHead);
    }

    [Fact]
    public async Task EverythingAcknowledgedSurvivesARedisRestart()
    {
        var (call, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        await Store.CommitAsync(new CallCommit { Calls = [call], Events = events, Intents = [Intent("i-1", call.Id, T0)] }, Ct);
        var before = await Store.OpenAsync(Ct);

        await redis.RestartAsync();

        var replica = NewReplica();
        Assert.Equal(before, await replica.OpenAsync(Ct));
        AssertSame(call, await replica.GetAsync(call.Id, Ct));
        Assert.Equal(events.Select(e => e.Id), (await replica.EventsAsync(call.Id, 0, Ct)).Select(e => e.Id));
        Assert.Equal(["i-1"], (await replica.IntentsAsync(Ct)).Select(i => i.Id));
    }
}
