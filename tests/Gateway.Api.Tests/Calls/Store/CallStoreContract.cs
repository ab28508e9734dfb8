using System.Text.RegularExpressions;
using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Xmpp.ActiveCalls;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls.Store;

/// <summary>What every <see cref="ICallStore"/> does; each implementation's test class runs it.</summary>
public abstract partial class CallStoreContract : IAsyncLifetime
{
    private ICallStore? _store;

    protected ICallStore Store => _store ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>A new store (for a durable one: on the test's file).</summary>
    protected abstract ICallStore CreateStore(CallsOptions options);

    public async ValueTask InitializeAsync()
    {
        _store = CreateStore(new CallsOptions());
        await _store.OpenAsync(Ct);
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_store is IAsyncDisposable disposable) await disposable.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task OpensWithAnEpochOfTenHexAndAnEmptyLog()
    {
        var head = await Store.OpenAsync(Ct);

        Assert.Matches(EpochPattern(), head.Epoch);
        Assert.Equal(0, head.Position);
        Assert.Equal(1, await Store.OldestLogPositionAsync(Ct));
        Assert.Empty(await Store.ReadLogAsync(0, 100, Ct));
    }

    [Fact]
    public async Task CommitAssignsIncreasingLogPositions()
    {
        var (call, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        var first = await Store.CommitAsync(Commit(call, events[..2]), Ct);
        var second = await Store.CommitAsync(Commit(call, events[2..]), Ct);

        Assert.Equal([1L, 2L, 3L], first.Concat(second).Select(e => e.Position));
        Assert.Equal(events.Select(e => e.Id), first.Concat(second).Select(e => e.Event.Id));
        Assert.Equal(3, (await Store.OpenAsync(Ct)).Position);
        Assert.Equal(1, await Store.OldestLogPositionAsync(Ct));
    }

    [Fact]
    public async Task AnEmptyCommitAppendsNothing()
    {
        Assert.Empty(await Store.CommitAsync(new CallCommit(), Ct));
        Assert.Equal(0, (await Store.OpenAsync(Ct)).Position);
    }

    [Fact]
    public async Task GetReturnsTheCallAsWrittenHeldOnesIncluded()
    {
        var visible = Ringing("sip-1", T0);
        var held = Creating("abcd1234", T0);
        await Store.CommitAsync(new CallCommit { Calls = [visible.Call, held], Events = visible.Events }, Ct);

        AssertSame(visible.Call, await Store.GetAsync(visible.Call.Id, Ct));
        AssertSame(held, await Store.GetAsync("abcd1234", Ct));
        Assert.Null(await Store.GetAsync("nobody", Ct));
    }

    [Fact]
    public async Task ACallKeepsTheTraceOfTheRequestThatCreatedIt()
    {
        var call = Creating("abcd1234", T0) with { TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
        await Store.CommitAsync(new CallCommit { Calls = [call] }, Ct);

        Assert.Equal(call.TraceParent, (await Store.GetAsync("abcd1234", Ct))!.TraceParent);
    }

    [Fact]
    public async Task FindsCallByItemAndBySipCallId()
    {
        var call = Ringing("sip-1", T0).Call;
        await Store.CommitAsync(Commit(call), Ct);

        AssertSame(call, await Store.FindByItemAsync("item-sip-1", Ct));
        AssertSame(call, await Store.FindBySipCallIdAsync("sip-1", Ct));
        Assert.Null(await Store.FindByItemAsync("item-other", Ct));
        Assert.Null(await Store.FindBySipCallIdAsync("other", Ct));
    }

    [Fact]
    public async Task FindsCallByItemAndBySipCallIdAfterRename()
    {
        // A create sent with one call-setup-id, answered with another: the held call takes the answered id.
        var creating = Creating("sent0001", T0);
        var item = Item("sip-1", ActiveCallDialogState.Requested, to: "sip:alice@example.com", callSetupId: "sent0001");
        var withLeg = CallStateMachine.ApplyPublished(creating, item, "item-1", "/example.com/alice", T0, Timings).Call;
        await Store.CommitAsync(Commit(withLeg), Ct);

        var renamed = CallStateMachine.Rename(withLeg, "answered", null, T0.AddSeconds(1), Timings);
        await Store.CommitAsync(new CallCommit { RemovedCalls = ["sent0001"], Calls = [renamed] }, Ct);

        Assert.Null(await Store.GetAsync("sent0001", Ct));
        Assert.Equal("answered", (await Store.FindByItemAsync("item-1", Ct))?.Id);
        Assert.Equal("answered", (await Store.FindBySipCallIdAsync("sip-1", Ct))?.Id);
        AssertSame(renamed, await Store.GetAsync("answered", Ct));
    }

    [Fact]
    public async Task TheFirstCallToClaimASipCallIdKeepsItTheLastToWriteAnItemGetsIt()
    {
        var first = Ringing("shared", T0).Call;
        var second = Ringing("shared", T0).Call with { Id = "c_second" };
        await Store.CommitAsync(Commit(first), Ct);
        await Store.CommitAsync(Commit(second), Ct);

        Assert.Equal(first.Id, (await Store.FindBySipCallIdAsync("shared", Ct))?.Id);
        Assert.Equal("c_second", (await Store.FindByItemAsync("item-shared", Ct))?.Id);
    }

    [Fact]
    public async Task ACallWrittenWithoutALegNoLongerAnswersForItsItemOrSipCallIdAndKeepsTheRest()
    {
        var call = Ringing("sip-1", T0).Call;
        await Store.CommitAsync(Commit(call), Ct);
        var rewritten = call with { UpdatedAt = T0.AddSeconds(1) };
        await Store.CommitAsync(Commit(rewritten), Ct);
        AssertSame(rewritten, await Store.FindByItemAsync("item-sip-1", Ct));

        await Store.CommitAsync(Commit(rewritten with { Legs = [], UpdatedAt = T0.AddSeconds(2) }), Ct);

        Assert.Null(await Store.FindByItemAsync("item-sip-1", Ct));
        Assert.Null(await Store.FindBySipCallIdAsync("sip-1", Ct));
        Assert.Equal(call.Id, (await Store.GetAsync(call.Id, Ct))?.Id);
    }

    [Fact]
    public async Task ARemovedCallIsGoneFromEveryIndex()
    {
        var call = Ringing("sip-1", T0).Call;
        await Store.CommitAsync(Commit(call), Ct);

        await Store.CommitAsync(new CallCommit { RemovedCalls = [call.Id] }, Ct);

        Assert.Null(await Store.GetAsync(call.Id, Ct));
        Assert.Null(await Store.FindByItemAsync("item-sip-1", Ct));
        Assert.Null(await Store.FindBySipCallIdAsync("sip-1", Ct));
        Assert.Empty(await Store.LiveAsync(Ct));
    }

    [Fact]
    public async Task LiveListsEveryCallNotEndedHeldOnesIncludedOldestFirst()
    {
        var ringing = Ringing("sip-1", T0).Call;
        var held = Creating("abcd1234", T0);
        var ended = Ended("sip-2", T0, T0.AddMinutes(1)).Call;
        await Store.CommitAsync(new CallCommit { Calls = [ringing, held, ended] }, Ct);

        Assert.Equal([ringing.Id, "abcd1234"], (await Store.LiveAsync(Ct)).Select(c => c.Id));
    }

    [Fact]
    public async Task ListPagesOldestFirstWithCursor()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var call = Ringing($"sip-{i}", T0.AddSeconds(i)).Call;
            ids.Add(call.Id);
            await Store.CommitAsync(Commit(call), Ct);
        }
        // Rewriting a call keeps its place.
        await Store.CommitAsync(Commit((await Store.GetAsync(ids[0], Ct))! with { UpdatedAt = T0.AddMinutes(5) }), Ct);

        var first = await Store.ListAsync(new CallQuery { Limit = 2 }, Ct);
        var second = await Store.ListAsync(new CallQuery { Limit = 2, After = first.Next!.Value }, Ct);
        var third = await Store.ListAsync(new CallQuery { Limit = 2, After = second.Next!.Value }, Ct);

        Assert.Equal(ids[..2], first.Items.Select(c => c.Id));
        Assert.Equal(ids[2..4], second.Items.Select(c => c.Id));
        Assert.Equal(ids[4..], third.Items.Select(c => c.Id));
        Assert.Null(third.Next);
        Assert.Equal(T0.AddMinutes(5), first.Items[0].UpdatedAt);
    }

    [Fact]
    public async Task ListHasNoNextWhenThePageEndsAtTheLastMatch()
    {
        for (var i = 0; i < 4; i++) await Store.CommitAsync(Commit(Ringing($"sip-{i}", T0)), Ct);
        await Store.CommitAsync(Commit(Ended("sip-ended", T0, T0.AddSeconds(1)).Call), Ct);

        var first = await Store.ListAsync(new CallQuery { Limit = 2 }, Ct);
        var second = await Store.ListAsync(new CallQuery { Limit = 2, After = first.Next!.Value }, Ct);

        Assert.Equal(2, second.Items.Count);
        Assert.Null(second.Next);
    }

    [Fact]
    public async Task ListLeavesOutHeldAndEndedCallsByDefault()
    {
        var ringing = Ringing("sip-1", T0).Call;
        await Store.CommitAsync(new CallCommit { Calls = [Creating("abcd1234", T0), ringing, Ended("sip-2", T0, T0.AddSeconds(1)).Call] }, Ct);

        var page = await Store.ListAsync(new CallQuery(), Ct);

        Assert.Equal([ringing.Id], page.Items.Select(c => c.Id));
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task ListFiltersByState()
    {
        var ringing = Ringing("sip-1", T0).Call;
        var ended = Ended("sip-2", T0, T0.AddSeconds(1)).Call;
        await Store.CommitAsync(new CallCommit { Calls = [ringing, ended] }, Ct);

        Assert.Equal([ended.Id], (await Store.ListAsync(new CallQuery { State = CallState.Ended }, Ct)).Items.Select(c => c.Id));
        Assert.Equal([ringing.Id], (await Store.ListAsync(new CallQuery { State = CallState.CalleeRinging }, Ct)).Items.Select(c => c.Id));
        Assert.Empty((await Store.ListAsync(new CallQuery { State = CallState.Connected }, Ct)).Items);
    }

    [Fact]
    public async Task ListFiltersByAddressOfAPartyOrALeg()
    {
        var bob = Ringing("sip-1", T0).Call;
        var carol = Ringing("sip-2", T0, to: "sip:carol@example.com;transport=tcp").Call;
        await Store.CommitAsync(new CallCommit { Calls = [bob, carol] }, Ct);

        Assert.Equal([carol.Id], (await Store.ListAsync(new CallQuery { Address = "carol@example.com" }, Ct)).Items.Select(c => c.Id));
        Assert.Equal(2, (await Store.ListAsync(new CallQuery { Address = "alice@example.com" }, Ct)).Items.Count);
    }

    [Fact]
    public async Task ListFiltersByCreationTime()
    {
        var early = Ringing("sip-1", T0).Call;
        var late = Ringing("sip-2", T0.AddMinutes(1)).Call;
        await Store.CommitAsync(new CallCommit { Calls = [early, late] }, Ct);

        Assert.Equal([late.Id], (await Store.ListAsync(new CallQuery { CreatedAfter = T0.AddMinutes(1) }, Ct)).Items.Select(c => c.Id));
        Assert.Equal([early.Id], (await Store.ListAsync(new CallQuery { CreatedBefore = T0.AddMinutes(1) }, Ct)).Items.Select(c => c.Id));
        // The same instant in another offset.
        Assert.Equal([late.Id], (await Store.ListAsync(new CallQuery { CreatedAfter = T0.AddMinutes(1).ToOffset(TimeSpan.FromHours(-5)) }, Ct)).Items.Select(c => c.Id));
    }

    [Fact]
    public async Task ListFiltersEndedCallsByEndTime()
    {
        var first = Ended("sip-1", T0, T0.AddMinutes(1)).Call;
        var second = Ended("sip-2", T0, T0.AddMinutes(2)).Call;
        var live = Ringing("sip-3", T0).Call;
        await Store.CommitAsync(new CallCommit { Calls = [first, second, live] }, Ct);

        Assert.Equal([second.Id], (await Store.ListAsync(new CallQuery { State = CallState.Ended, EndedAfter = T0.AddMinutes(2) }, Ct)).Items.Select(c => c.Id));
        Assert.Equal([first.Id], (await Store.ListAsync(new CallQuery { State = CallState.Ended, EndedBefore = T0.AddMinutes(2) }, Ct)).Items.Select(c => c.Id));
        // A call that has not ended has no end time: an end filter leaves it out.
        Assert.Empty((await Store.ListAsync(new CallQuery { EndedBefore = T0.AddDays(1) }, Ct)).Items);
    }

    [Fact]
    public async Task ListAppliesVisibilityBeforeCountingThePage()
    {
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var call = Ringing($"sip-{i}", T0, to: i % 2 == 0 ? "sip:bob@example.com" : "sip:carol@example.com").Call;
            ids.Add(call.Id);
            await Store.CommitAsync(Commit(call), Ct);
        }
        static bool Bobs(CallResource c) => c.To == "sip:bob@example.com";

        var first = await Store.ListAsync(new CallQuery { Limit = 2, Visible = Bobs }, Ct);
        var second = await Store.ListAsync(new CallQuery { Limit = 2, Visible = Bobs, After = first.Next!.Value }, Ct);

        Assert.Equal([ids[0], ids[2]], first.Items.Select(c => c.Id));
        Assert.Equal([ids[4]], second.Items.Select(c => c.Id));
        Assert.Null(second.Next);
    }

    [Fact]
    public async Task EventsAfterSequence()
    {
        var (call, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        await Store.CommitAsync(Commit(call, events), Ct);

        var after1 = await Store.EventsAsync(call.Id, 1, Ct);

        Assert.Equal([2L, 3L], after1.Select(e => e.Sequence));
        Assert.Equal(AsJson(events[1..]), AsJson(after1));
        Assert.Equal(3, (await Store.EventsAsync(call.Id, 0, Ct)).Count);
        Assert.Empty(await Store.EventsAsync(call.Id, 3, Ct));
        Assert.Empty(await Store.EventsAsync("nobody", 0, Ct));
    }

    [Fact]
    public async Task ReadLogReturnsEventsAfterAPositionUpToALimit()
    {
        var (call, events) = Ended("sip-1", T0, T0.AddMinutes(1));
        var other = Ringing("sip-2", T0);
        await Store.CommitAsync(Commit(call, events), Ct);
        await Store.CommitAsync(Commit(other), Ct);

        var log = await Store.ReadLogAsync(1, 2, Ct);

        Assert.Equal([2L, 3L], log.Select(e => e.Position));
        Assert.Equal(AsJson(events[1..]), AsJson(log.Select(e => e.Event)));
        Assert.Equal([4L], (await Store.ReadLogAsync(3, 100, Ct)).Select(e => e.Position));
        Assert.Empty(await Store.ReadLogAsync(4, 100, Ct));
    }

    [Fact]
    public async Task PurgeForgetsEndedCallsAndTheirEvents()
    {
        var (old, oldEvents) = Ended("sip-1", T0, T0.AddMinutes(1));
        var (recent, recentEvents) = Ended("sip-2", T0, T0.AddMinutes(2));
        var live = Ringing("sip-3", T0);
        await Store.CommitAsync(new CallCommit { Calls = [old, recent, live.Call], Events = [.. oldEvents, .. recentEvents, .. live.Events] }, Ct);

        // Strictly before: the call that ended at the cutoff stays.
        Assert.Equal(1, await Store.PurgeAsync(T0.AddMinutes(2), Ct));

        Assert.Null(await Store.GetAsync(old.Id, Ct));
        Assert.Null(await Store.FindByItemAsync("item-sip-1", Ct));
        Assert.Null(await Store.FindBySipCallIdAsync("sip-1", Ct));
        Assert.Empty(await Store.EventsAsync(old.Id, 0, Ct));
        Assert.Equal(3, (await Store.EventsAsync(recent.Id, 0, Ct)).Count);
        Assert.NotNull(await Store.GetAsync(live.Call.Id, Ct));
        Assert.Equal(0, await Store.PurgeAsync(T0.AddMinutes(2), Ct));
    }

    [Fact]
    public async Task IntentsSurviveUntilRemoved()
    {
        var first = Intent("i-1", "call-1", T0);
        var second = Intent("i-2", "call-2", T0) with { Kind = CommandIntentKind.Hangup, Endpoint = null, Target = null };
        await Store.CommitAsync(new CallCommit { Intents = [first, second] }, Ct);
        var retried = first with { Attempts = 1, LastError = "timeout", NextAttemptAt = T0.AddSeconds(5) };

        await Store.CommitAsync(new CallCommit { Intents = [retried] }, Ct);
        Assert.Equal([retried, second], (await Store.IntentsAsync(Ct)).OrderBy(i => i.Id));

        await Store.CommitAsync(new CallCommit { RemovedIntents = ["i-2", "unknown"] }, Ct);
        Assert.Equal([retried], await Store.IntentsAsync(Ct));
    }

    [GeneratedRegex("^[0-9a-f]{10}$")]
    private static partial Regex EpochPattern();
}

public sealed class InMemoryCallStoreTests : CallStoreContract
{
    protected override ICallStore CreateStore(CallsOptions options) =>
        new InMemoryCallStore(Microsoft.Extensions.Options.Options.Create(options), Microsoft.Extensions.Logging.Abstractions.NullLogger<InMemoryCallStore>.Instance);
}
