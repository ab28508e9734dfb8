using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls;

/// <summary>
/// The tracker's memory of the embedded store's live calls: every answer it gives must be what the SQLite store would
/// answer, so each step commits to a real store and to the memory alike and compares every lookup (a miss in memory is
/// not an answer: the tracker asks the store).
/// </summary>
public sealed class LiveCallsTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private static readonly CallTimings Timings = CallTimings.Default;

    private readonly LiveCalls _live = new();
    private TempSqliteCallStore _database = null!;

    private SqliteCallStore Store => _database.Store;

    public async ValueTask InitializeAsync() => _database = await TempSqliteCallStore.OpenAsync("live-calls", Ct);

    public async ValueTask DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task ALiveCallIsAnsweredByIdAndByEachOfItsItems()
    {
        var ringing = await CommitAsync(CallStateMachine.ApplyPublished(Requested("c1"), SetupLeg("c1", "requested"), "item-1", Node, T0, Timings));

        Assert.Same(ringing, _live.Get("c1"));
        Assert.Same(ringing, _live.FindByItem("item-1"));
        await AssertAgreesWithTheStoreAsync("c1", "item-1");
    }

    [Fact]
    public async Task AnEndedCallLeavesMemoryAndItsItemsAreAnsweredByTheStore()
    {
        var ringing = await CommitAsync(CallStateMachine.ApplyPublished(Requested("c1"), SetupLeg("c1", "requested"), "item-1", Node, T0, Timings));

        var ended = await CommitAsync(CallStateMachine.ApplyRetracted(ringing, "item-1", T0.AddSeconds(1), Timings));

        Assert.True(ended.IsEnded);
        Assert.Null(_live.Get("c1"));
        Assert.Null(_live.FindByItem("item-1"));
        Assert.Equal("c1", (await Store.FindByItemAsync("item-1", Ct))?.Id);
    }

    [Fact]
    public async Task AnItemAnEndedCallWroteLastIsNotAnsweredForTheLiveCallThatHadItBefore()
    {
        // Two calls claim one item (the store keeps the last writer): the live one first, then one that ends with it.
        await CommitAsync(CallStateMachine.ApplyPublished(Requested("live"), SetupLeg("live", "requested"), "shared-item", Node, T0, Timings));
        var other = await CommitAsync(CallStateMachine.ApplyPublished(Requested("other"), SetupLeg("other", "requested"), "shared-item", Node, T0, Timings));
        await CommitAsync(CallStateMachine.ApplyRetracted(other, "shared-item", T0.AddSeconds(1), Timings));

        Assert.NotNull(_live.Get("live"));
        Assert.Null(_live.FindByItem("shared-item"));
        Assert.Equal("other", (await Store.FindByItemAsync("shared-item", Ct))?.Id);
    }

    [Fact]
    public async Task ARemovedCallIsForgottenWithItsItems()
    {
        await CommitAsync(CallStateMachine.ApplyPublished(Requested("c1"), SetupLeg("c1", "requested"), "item-1", Node, T0, Timings));

        await Store.CommitAsync(new CallCommit { RemovedCalls = ["c1"] }, Ct);
        _live.Removed("c1");

        Assert.Null(_live.Get("c1"));
        Assert.Null(_live.FindByItem("item-1"));
        Assert.Null(await Store.FindByItemAsync("item-1", Ct));
    }

    [Fact]
    public async Task LoadingLeavesAnItemTwoLiveCallsClaimToTheStore()
    {
        await CommitAsync(CallStateMachine.ApplyPublished(Requested("first"), SetupLeg("first", "requested"), "shared-item", Node, T0, Timings));
        await CommitAsync(CallStateMachine.ApplyPublished(Requested("second"), SetupLeg("second", "requested"), "shared-item", Node, T0, Timings));
        await CommitAsync(CallStateMachine.ApplyPublished(Requested("alone"), SetupLeg("alone", "requested"), "own-item", Node, T0, Timings));

        var loaded = new LiveCalls();
        loaded.Load(await Store.LiveAsync(Ct));

        Assert.Equal(["alone", "first", "second"], loaded.Values.Select(c => c.Id).Order(StringComparer.Ordinal));
        Assert.Null(loaded.FindByItem("shared-item"));
        Assert.Equal("alone", loaded.FindByItem("own-item")?.Id);
    }

    private static TrackedCall Requested(string id)
    {
        var pending = CallStateMachine.BeginCreate(null, id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);
        return CallStateMachine.CompleteCreate(pending, T0, Timings).Call;
    }

    private async Task<TrackedCall> CommitAsync(CallTransition transition)
    {
        await Store.CommitAsync(new CallCommit { Calls = [transition.Call], Events = transition.Events }, Ct);
        _live.Committed(transition.Call);
        return transition.Call;
    }

    private async Task AssertAgreesWithTheStoreAsync(string id, string itemId)
    {
        Assert.Equal((await Store.GetAsync(id, Ct))?.Id, _live.Get(id)?.Id);
        Assert.Equal((await Store.FindByItemAsync(itemId, Ct))?.Id, _live.FindByItem(itemId)?.Id);
    }
}
