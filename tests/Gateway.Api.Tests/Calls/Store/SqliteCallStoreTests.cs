using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls.Store;

public sealed class SqliteCallStoreTests : CallStoreContract
{
    private readonly TempSqliteFile _file = new("calls");
    private readonly List<SqliteCallStore> _reopened = [];

    protected override ICallStore CreateStore(CallsOptions options)
    {
        options.DatabasePath = _file.Path;
        return new SqliteCallStore(Options.Create(options), NullLogger<SqliteCallStore>.Instance);
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var store in _reopened) await store.DisposeAsync();
        await base.DisposeAsync();
        await _file.DisposeAsync();
    }

    /// <summary>Closes the test's store and opens another instance on the same file, as a restart does.</summary>
    private async Task<SqliteCallStore> ReopenAsync()
    {
        await ((SqliteCallStore)Store).DisposeAsync();
        if (_reopened.Count > 0) await _reopened[^1].DisposeAsync();
        var store = (SqliteCallStore)CreateStore(new CallsOptions());
        _reopened.Add(store);
        await store.OpenAsync(Ct);
        return store;
    }

    [Fact]
    public async Task CreatesTheFileAndItsFolder()
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"calls-{Guid.NewGuid():N}", "nested", "calls.db");
        try
        {
            await using var store = new SqliteCallStore(Options.Create(new CallsOptions { DatabasePath = path }), NullLogger<SqliteCallStore>.Instance);
            await store.OpenAsync(Ct);
            Assert.True(File.Exists(path));
        }
        finally
        {
            Directory.Delete(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(path))!, recursive: true);
        }
    }

    [Fact]
    public async Task EverythingSurvivesReopening()
    {
        var head = await Store.OpenAsync(Ct);
        var (ended, endedEvents) = Ended("sip-1", T0, T0.AddMinutes(1));
        var live = Ringing("sip-2", T0);
        var intent = Intent("i-1", live.Call.Id, T0);
        await Store.CommitAsync(new CallCommit { Calls = [ended, live.Call, Creating("abcd1234", T0)], Events = [.. endedEvents, .. live.Events], Intents = [intent] }, Ct);

        var store = await ReopenAsync();

        var reopened = await store.OpenAsync(Ct);
        Assert.Equal(head.Epoch, reopened.Epoch);
        Assert.Equal(4, reopened.Position);
        AssertSame(ended, await store.GetAsync(ended.Id, Ct));
        AssertSame(live.Call, await store.FindBySipCallIdAsync("sip-2", Ct));
        AssertSame(live.Call, await store.FindByItemAsync("item-sip-2", Ct));
        Assert.Equal([live.Call.Id, "abcd1234"], (await store.LiveAsync(Ct)).Select(c => c.Id));
        Assert.Equal(AsJson(endedEvents), AsJson(await store.EventsAsync(ended.Id, 0, Ct)));
        Assert.Equal([1L, 2L, 3L, 4L], (await store.ReadLogAsync(0, 100, Ct)).Select(e => e.Position));
        Assert.Equal([intent], await store.IntentsAsync(Ct));

        // The log goes on where it stopped; the list keeps its order.
        var next = Ringing("sip-3", T0);
        Assert.Equal(5, Assert.Single(await store.CommitAsync(Commit(next), Ct)).Position);
        Assert.Equal([live.Call.Id, next.Call.Id], (await store.ListAsync(new CallQuery(), Ct)).Items.Select(c => c.Id));
    }

    [Fact]
    public async Task PositionsAreNotReusedAfterPurge()
    {
        var (ended, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        await Store.CommitAsync(Commit(ended, events), Ct);
        await Store.PurgeAsync(T0.AddDays(1), Ct);

        Assert.Empty(await Store.ReadLogAsync(0, 100, Ct));
        Assert.Equal(3, (await Store.OpenAsync(Ct)).Position);
        Assert.Equal(4, await Store.OldestLogPositionAsync(Ct));

        var store = await ReopenAsync();
        Assert.Equal(4, await store.OldestLogPositionAsync(Ct));
        Assert.Equal(4, Assert.Single(await store.CommitAsync(Commit(Ringing("sip-2", T0)), Ct)).Position);
        Assert.Equal(4, await store.OldestLogPositionAsync(Ct));
    }

    [Fact]
    public async Task TheLogForgetsTheEventsOfPurgedCalls()
    {
        var (ended, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        var live = Ringing("sip-2", T0);
        await Store.CommitAsync(Commit(ended, events), Ct);
        await Store.CommitAsync(Commit(live), Ct);

        await Store.PurgeAsync(T0.AddDays(1), Ct);

        Assert.Equal([4L], (await Store.ReadLogAsync(0, 100, Ct)).Select(e => e.Position));
        Assert.Equal(4, await Store.OldestLogPositionAsync(Ct));
    }

    [Fact]
    public async Task ACommitThatFailsLeavesNothingBehind()
    {
        var live = Ringing("sip-1", T0);
        var broken = Ringing("sip-2", T0).Call with { Id = null! };

        await Assert.ThrowsAsync<SqliteException>(async () =>
            await Store.CommitAsync(new CallCommit { Calls = [live.Call, broken], Events = live.Events, Intents = [Intent("i-1", "x", T0)] }, Ct));

        Assert.Null(await Store.GetAsync(live.Call.Id, Ct));
        Assert.Null(await Store.FindByItemAsync("item-sip-1", Ct));
        Assert.Empty(await Store.ReadLogAsync(0, 100, Ct));
        Assert.Empty(await Store.IntentsAsync(Ct));
        // The writer is usable after the failure.
        Assert.Equal(1, Assert.Single(await Store.CommitAsync(Commit(live), Ct)).Position);
    }

    [Fact]
    public async Task ReadsSeeTheLastCommitWhileTheWriterIsBusy()
    {
        var call = Ringing("sip-1", T0).Call;
        await Store.CommitAsync(Commit(call), Ct);

        // A write transaction of another connection is open: reads still answer (WAL).
        await using var other = new SqliteConnection($"Data Source={_file.Path}");
        await other.OpenAsync(Ct);
        await using var transaction = other.BeginTransaction(deferred: false);

        AssertSame(call, await Store.GetAsync(call.Id, Ct));
        Assert.Single((await Store.ListAsync(new CallQuery(), Ct)).Items);
    }
}
