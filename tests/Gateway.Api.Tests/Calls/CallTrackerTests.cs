using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Api.Tests.Calls;

/// <summary>The tracker (state machine + store + publisher) against the event orders of onsip-xmpp-api.md §4.6 and the
/// races of seed note [1].</summary>
public sealed class CallTrackerTests : IAsyncLifetime
{
    private const string Alice = "sip:alice@example.onsip.com";
    private const string Bob = "sip:bob@example.onsip.com";
    private const string Node = "/example.onsip.com/alice";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.Zero));
    private readonly CallsOptions _options = new() { Store = CallStoreKind.Memory };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly InMemoryCallStore _store;
    private readonly CallEventPublisher _publisher;
    private readonly CallTracker _calls;
    private long _drained;

    public CallTrackerTests()
    {
        _store = new InMemoryCallStore(Options.Create(_options), NullLogger<InMemoryCallStore>.Instance);
        _publisher = new CallEventPublisher([], new PublishedHead(), NullLogger<CallEventPublisher>.Instance);
        _calls = new CallTracker(_store, _publisher, new SingleReplicaLeadership("test"), Options.Create(_options), Options.Create(new HttpApiOptions()), _time,
            NullLogger<CallTracker>.Instance);
    }

    public async ValueTask InitializeAsync() => await _calls.StartAsync(CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await _calls.StopAsync(CancellationToken.None);
        await _calls.DisposeAsync();
        await _publisher.DisposeAsync();
    }

    /// <summary>The events committed since the last drain, as "{sequence}:{type}", in log order.</summary>
    private async Task<List<string>> DrainAsync()
    {
        var events = await _store.ReadLogAsync(_drained, int.MaxValue, CancellationToken.None);
        if (events.Count > 0) _drained = events[^1].Position;
        return [.. events.Select(e => $"{e.Event.Sequence}:{e.Event.Type}")];
    }

    private async Task<CallResource?> FindAsync(string idOrSipCallId) => (await _calls.FindAsync(idOrSipCallId, Ct))?.ToResource();

    private async Task AdvanceAsync(TimeSpan by)
    {
        _time.Advance(by);
        await _calls.TickAsync();
    }

    private async Task<CallResource> CreateAsync(string setupId = "ab12cd34")
    {
        await _calls.BeginCreateAsync(setupId, Alice, Bob, "test-key", cancellationToken: Ct);
        return (await _calls.CompleteCreateAsync(setupId, setupId, Ct)).ToResource();
    }

    // Click-to-call legs (the reference service's and OnSIP's shapes): the setup leg rings the caller, the second leg
    // calls the callee; both carry the call-setup-id.
    private static ActiveCallItem SetupLeg(string state, string setupId = "ab12cd34", string? toTag = null) => new()
    {
        DialogStateText = state, CallId = "setup-dialog-1", FromUri = "sip:call-setup@example.onsip.com", ToUri = Alice,
        FromTag = "ft-setup", ToTag = toTag, ToAor = "alice@example.onsip.com", Branch = "z9hG4bK-1", CallSetupId = setupId,
    };

    private static ActiveCallItem CalleeLeg(string state, string setupId = "ab12cd34", string? toTag = null) => new()
    {
        DialogStateText = state, CallId = "callee-dialog-2", FromUri = Alice, ToUri = Bob, FromTag = "ft-callee", ToTag = toTag, CallSetupId = setupId,
    };

    [Fact]
    public async Task ClickToCallFollowsTheOnSipEventOrder()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("created"), "item-callee", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);
        Assert.Equal(CallState.Connected, (await FindAsync("ab12cd34"))!.State);
        await _calls.ApplyRetractedAsync("item-callee", Ct);

        Assert.Equal(
            ["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.callee-ringing", "5:call.connected", "6:call.updated", "7:call.ended"],
            await DrainAsync());
        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallState.Ended, call.State);
        Assert.Equal(CallEndReason.Completed, call.EndReason);
        Assert.Equal([LegRole.Caller, LegRole.Callee], call.Legs.Select(l => l.Role));
        Assert.All(call.Legs, l => Assert.False(l.Active));
    }

    [Fact]
    public async Task EventsBeforeTheCreateResultAreHeldAndReleasedAfterCallRequested()
    {
        await _calls.BeginCreateAsync("ab12cd34", Alice, Bob, "test-key", cancellationToken: Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node, Ct);

        Assert.Empty(await DrainAsync());
        Assert.Null(await FindAsync("ab12cd34"));

        var call = (await _calls.CompleteCreateAsync("ab12cd34", "ab12cd34", Ct)).ToResource();

        Assert.Equal(CallState.CallerAnswered, call.State);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered"], await DrainAsync());
    }

    [Fact]
    public async Task EarlyEventsUnderAnotherCallSetupIdJoinTheCallTheComponentNamed()
    {
        await _calls.BeginCreateAsync("sent0001", Alice, Bob, "test-key", cancellationToken: Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("requested", setupId: "given001"), "item-setup", Node, Ct);

        var call = (await _calls.CompleteCreateAsync("sent0001", "given001", Ct)).ToResource();

        Assert.Equal("given001", call.Id);
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Null(await FindAsync("sent0001"));
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], await DrainAsync());
    }

    [Fact]
    public async Task DuplicatedAndReorderedItemsProduceNoDuplicatedOrReorderedEvents()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct); // a late, stale publish
        await _calls.ApplyPublishedAsync(CalleeLeg("created"), "item-callee", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("created"), "item-callee", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);
        await _calls.ApplyRetractedAsync("item-callee", Ct);
        await _calls.ApplyRetractedAsync("item-callee", Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node, Ct); // publish after retract

        Assert.Equal(
            ["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.callee-ringing", "5:call.connected", "6:call.updated", "7:call.ended"],
            await DrainAsync());
        var events = await _calls.EventsAsync("ab12cd34", 0, Ct);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(events.Select(e => $"ab12cd34.{e.Sequence}"), events.Select(e => e.Id));
    }

    [Fact]
    public async Task AnOlderPublishTimeDoesNotOverwriteANewerLeg()
    {
        await CreateAsync();
        var t = new DateTimeOffset(2026, 1, 15, 9, 0, 10, TimeSpan.Zero);
        await _calls.ApplyPublishedAsync(CalleeLeg("created") with { PublishTime = t, FromDisplay = "new" }, "item-callee", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("created") with { PublishTime = t.AddSeconds(-5), FromDisplay = "old" }, "item-callee", Node, Ct);

        Assert.Equal("new", (await FindAsync("ab12cd34"))!.Legs.Single().FromDisplay);
    }

    [Fact]
    public async Task SetupLegEndingBeforeTheCalleeLegAppearsIsNotTheEndOfTheCall()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct); // OnSIP: the phone BYEs the setup dialog after the REFER

        Assert.Equal(CallState.CallerAnswered, (await FindAsync("ab12cd34"))!.State);
        await _calls.ApplyPublishedAsync(CalleeLeg("created"), "item-callee", Node, Ct);
        Assert.Equal(CallState.CalleeRinging, (await FindAsync("ab12cd34"))!.State);
    }

    [Fact]
    public async Task CallerAnsweredWithoutACalleeLegEndsAfterTheGrace()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);

        await AdvanceAsync(_options.CalleeLegGrace + TimeSpan.FromSeconds(1));

        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallState.Ended, call.State);
        Assert.Equal(CallEndReason.CalleeNotReached, call.EndReason);
    }

    [Fact]
    public async Task CallerNotAnsweringEndsTheCallWithThatReason()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);

        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallEndReason.CallerNotAnswered, call.EndReason);
    }

    [Fact]
    public async Task InboundCallForkedToSeveralPhonesIsOneCallKeyedByItsSipCallId()
    {
        ActiveCallItem Fork(string branch, string state, string? toTag = null) => new()
        {
            DialogStateText = state, CallId = "inbound-1", FromUri = "sip:carol@example.com", ToUri = Alice,
            ToAor = "alice@example.onsip.com", FromTag = "ft-in", ToTag = toTag, Branch = branch,
        };
        await _calls.ApplyPublishedAsync(Fork("b1", "requested"), "item-1", Node, Ct);
        await _calls.ApplyPublishedAsync(Fork("b2", "requested"), "item-2", Node, Ct);
        await _calls.ApplyPublishedAsync(Fork("b1", "confirmed", "tt-in"), "item-1", Node, Ct);
        await _calls.ApplyRetractedAsync("item-2", Ct);

        var call = (await FindAsync("inbound-1"))!;
        Assert.Equal(CallStateMachine.PlainCallId("inbound-1"), call.Id);
        Assert.Null(call.CallSetupId);
        Assert.Equal(CallState.Connected, call.State);
        Assert.Equal("sip:carol@example.com", call.From);
        Assert.Equal(2, call.Legs.Count);
        // The second phone ringing and its retraction change only the legs: call.updated, so clients see every leg.
        Assert.Equal(["1:call.callee-ringing", "2:call.updated", "3:call.connected", "4:call.updated"], await DrainAsync());
    }

    [Fact]
    public async Task UnclaimedCallSetupIdEventsArePublishedAfterTheHoldTime()
    {
        await _calls.ApplyPublishedAsync(SetupLeg("requested", setupId: "other123"), "item-x", Node, Ct);
        Assert.Null(await FindAsync("other123"));

        await AdvanceAsync(_options.EarlyEventHoldTime + TimeSpan.FromSeconds(1));

        var call = (await FindAsync("other123"))!;
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Equal(Alice, call.From);
        Assert.Equal(["1:call.caller-ringing"], await DrainAsync());
    }

    [Fact]
    public async Task FailedCreateIsForgottenAndTimedOutCreateIsKeptIfLegsShowUp()
    {
        await _calls.BeginCreateAsync("fail0001", Alice, Bob, null, cancellationToken: Ct);
        await _calls.AbandonCreateAsync("fail0001", outcomeUnknown: false);
        Assert.Equal(0, _store.Count);

        await _calls.BeginCreateAsync("late0001", Alice, Bob, null, cancellationToken: Ct);
        await _calls.AbandonCreateAsync("late0001", outcomeUnknown: true);
        await _calls.ApplyPublishedAsync(SetupLeg("requested", setupId: "late0001"), "item-late", Node, Ct);
        await AdvanceAsync(_options.EarlyEventHoldTime + TimeSpan.FromSeconds(1));

        var call = (await FindAsync("late0001"))!;
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], await DrainAsync());
    }

    [Fact]
    public async Task ACreateOfUnknownOutcomeKeepsItsCallSetupIdUntilTwoReconciliationsFindNoneOfItsItems()
    {
        await _calls.BeginCreateAsync("lost0001", Alice, Bob, null, cancellationToken: Ct);
        await _calls.AbandonCreateAsync("lost0001", outcomeUnknown: true);

        await Assert.ThrowsAsync<CreateOutcomeUnknownException>(() => _calls.BeginCreateAsync("lost0001", Alice, Bob, null, cancellationToken: Ct));
        await AdvanceAsync(TimeSpan.FromMinutes(5));
        await Assert.ThrowsAsync<CreateOutcomeUnknownException>(() => _calls.BeginCreateAsync("lost0001", Alice, Bob, null, cancellationToken: Ct));

        await _calls.ReconcileAsync([], _time.GetUtcNow(), Ct);
        await Assert.ThrowsAsync<CreateOutcomeUnknownException>(() => _calls.BeginCreateAsync("lost0001", Alice, Bob, null, cancellationToken: Ct));
        await AdvanceAsync(TimeSpan.FromMinutes(1));
        await _calls.ReconcileAsync([], _time.GetUtcNow(), Ct);

        await _calls.BeginCreateAsync("lost0001", Alice, Bob, null, cancellationToken: Ct);
    }

    [Fact]
    public async Task ACallSetupIdInUseIsRefused()
    {
        await CreateAsync();
        await Assert.ThrowsAsync<CallSetupIdInUseException>(() => _calls.BeginCreateAsync("ab12cd34", Alice, Bob, null, cancellationToken: Ct));
    }

    [Fact]
    public async Task HangupPlanTerminatesAnsweredDialogsAndCancelsRingingOnes()
    {
        await CreateAsync();
        async Task<IReadOnlyList<HangupCommand>> PlanAsync() => CallStateMachine.PlanHangup((await _calls.FindAsync("ab12cd34", Ct))!);
        Assert.Empty(await PlanAsync()); // no leg yet: nothing to address

        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        Assert.Equal([new HangupCommand("setup-dialog-1", "ft-setup", null)], await PlanAsync());

        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("created"), "item-callee", Node, Ct);
        Assert.Equal([new HangupCommand("setup-dialog-1", "ft-setup", "tt-setup"), new HangupCommand("callee-dialog-2", "ft-callee", null)], await PlanAsync());

        await _calls.ApplyRetractedAsync("item-setup", Ct);
        await _calls.ApplyRetractedAsync("item-callee", Ct);
        Assert.Empty(await PlanAsync());
    }

    [Fact]
    public async Task HangupThroughTheApiSetsTheEndReason()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.UpdateAsync("ab12cd34", c => new CallUpdate(CallStateMachine.RequestHangup(c, _time.GetUtcNow())), Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);

        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallEndReason.Canceled, call.EndReason);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.hangup-requested", "4:call.ended"], await DrainAsync());
    }

    [Fact]
    public async Task LegsRetractedBeforeTheHangupCommandIsAnsweredEndTheCallAsTerminatedNotCompleted()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);

        // The hang-up is requested; the component retracts the legs before its IQ result reaches us.
        await _calls.UpdateAsync("ab12cd34", c => new CallUpdate(CallStateMachine.RequestHangup(c, _time.GetUtcNow())), Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);
        await _calls.ApplyRetractedAsync("item-callee", Ct);

        Assert.Equal(CallEndReason.Terminated, (await FindAsync("ab12cd34"))!.EndReason);
    }

    [Fact]
    public async Task AFailedHangupLeavesTheCallToEndForItsOwnReason()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);
        await _calls.UpdateAsync("ab12cd34", c => new CallUpdate(CallStateMachine.RequestHangup(c, _time.GetUtcNow())), Ct);
        await _calls.UpdateAsync("ab12cd34", c => new CallUpdate(CallStateMachine.FailHangup(c, "item-not-found", _time.GetUtcNow())), Ct);

        await _calls.ApplyRetractedAsync("item-setup", Ct);
        await _calls.ApplyRetractedAsync("item-callee", Ct);
        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallEndReason.Completed, call.EndReason);
        var failed = (await _calls.EventsAsync("ab12cd34", 0, Ct)).Single(e => e.Type == "call.hangup-failed");
        Assert.Equal("item-not-found", failed.Reason);
    }

    [Fact]
    public async Task EndedCallsAreForgottenAfterTheRetention()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "item-setup", Node, Ct);
        await _calls.ApplyRetractedAsync("item-setup", Ct);
        await AdvanceAsync(_options.EndedRetention - TimeSpan.FromSeconds(2));
        Assert.NotNull(await FindAsync("ab12cd34"));

        // Retention is applied every few minutes, not every second.
        await AdvanceAsync(TimeSpan.FromMinutes(6));

        Assert.Null(await FindAsync("ab12cd34"));
        Assert.Null(await FindAsync("setup-dialog-1"));
    }

    [Fact]
    public async Task ACallWithNoEventEndsAfterTheSetupTimeout()
    {
        await CreateAsync();
        await AdvanceAsync(_options.SetupTimeout + TimeSpan.FromSeconds(1));

        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallEndReason.SetupTimeout, call.EndReason);
    }

    [Fact]
    public async Task TheInMemoryStoreIsBounded()
    {
        _options.MaxCalls = 10;
        for (var i = 0; i < 15; i++) await _calls.ApplyPublishedAsync(CalleeLeg("created", setupId: null!) with { CallSetupId = null, CallId = $"call-{i}" }, $"item-{i}", Node, Ct);

        Assert.Equal(10, _store.Count);
        Assert.Null(await FindAsync("call-0"));
        Assert.NotNull(await FindAsync("call-14"));
    }

    [Fact]
    public async Task AFullInMemoryStoreForgetsEndedCallsBeforeLiveOnes()
    {
        _options.MaxCalls = 10;
        for (var i = 0; i < 10; i++)
        {
            var leg = CalleeLeg("confirmed", setupId: null!) with { CallSetupId = null, CallId = $"call-{i}" };
            await _calls.ApplyPublishedAsync(leg, $"item-{i}", Node, Ct);
            if (i >= 5) await _calls.ApplyRetractedAsync($"item-{i}", Ct);
        }
        await AdvanceAsync(TimeSpan.FromMinutes(1));

        await _calls.ApplyPublishedAsync(CalleeLeg("confirmed", setupId: null!) with { CallSetupId = null, CallId = "call-new" }, "item-new", Node, Ct);

        for (var i = 0; i < 5; i++) Assert.NotNull(await FindAsync($"call-{i}"));
        Assert.NotNull(await FindAsync("call-new"));
        Assert.Equal(10, _store.Count);
    }

    [Fact]
    public async Task ListFiltersByAddressAndStateAndPagesWithACursor()
    {
        for (var i = 0; i < 5; i++) await CreateAsync($"call000{i}");
        await _calls.ApplyPublishedAsync(SetupLeg("requested", setupId: "call0000"), "item-setup", Node, Ct);

        var first = await _calls.ListAsync(new CallQuery { Limit = 2 }, Ct);
        Assert.Equal(["call0000", "call0001"], first.Items.Select(c => c.Id));
        var second = await _calls.ListAsync(new CallQuery { Limit = 2, After = first.Next!.Value }, Ct);
        Assert.Equal(["call0002", "call0003"], second.Items.Select(c => c.Id));

        var ringing = await _calls.ListAsync(new CallQuery { State = CallState.CallerRinging }, Ct);
        Assert.Equal(["call0000"], ringing.Items.Select(c => c.Id));
        var byAddress = await _calls.ListAsync(new CallQuery { Address = "bob@example.onsip.com" }, Ct);
        Assert.Equal(5, byAddress.Items.Count);
        var none = await _calls.ListAsync(new CallQuery { Address = "nobody@example.com" }, Ct);
        Assert.Empty(none.Items);
    }

    [Fact]
    public async Task ReconcileEmitsMissedTransitionsAndEndsLegsThatVanishedButSparesLegsSeenAfterTheSnapshot()
    {
        await CreateAsync();
        await _calls.ApplyPublishedAsync(SetupLeg("requested"), "setup-item", Node, Ct);
        await _calls.ApplyPublishedAsync(CalleeLeg("requested"), "callee-item", "/example.onsip.com/bob", Ct);
        await _calls.ApplyPublishedAsync(new ActiveCallItem { DialogStateText = "requested", CallId = "other-dialog", FromUri = Bob, ToUri = Alice, FromTag = "x" }, "other-item", Node, Ct);
        await DrainAsync();
        var snapshotAt = _time.GetUtcNow();
        await AdvanceAsync(TimeSpan.FromMilliseconds(10));
        // A leg first seen after the fetch was asked for: not in the snapshot, but alive.
        await _calls.ApplyPublishedAsync(new ActiveCallItem { DialogStateText = "requested", CallId = "late-dialog", FromUri = Bob, ToUri = Alice, FromTag = "y" }, "late-item", Node, Ct);
        await DrainAsync();

        // Now: the callee answered (missed) and the setup leg and the other call are gone.
        var result = await _calls.ReconcileAsync([("callee-item", "/example.onsip.com/bob", CalleeLeg("confirmed", toTag: "tt-2"))], snapshotAt, Ct);

        Assert.Equal(new ReconcileResult(1, 2), result);
        var call = (await FindAsync("ab12cd34"))!;
        Assert.Equal(CallState.Connected, call.State);
        Assert.False(call.Legs.Single(l => l.ItemId == "setup-item").Active);
        Assert.Equal(CallState.Ended, (await FindAsync(CallStateMachine.PlainCallId("other-dialog")))!.State);
        Assert.Equal(CallState.CalleeRinging, (await FindAsync(CallStateMachine.PlainCallId("late-dialog")))!.State);
        Assert.Equal(["call.connected", "call.ended", "call.updated"], (await DrainAsync()).Select(e => e[(e.IndexOf(':') + 1)..]).Order());

        // Reconciling again with nothing left ends the connected call; how it ended while unobserved is unknown: lost.
        await _calls.ReconcileAsync([], null, Ct);
        Assert.Equal(CallEndReason.Lost, (await FindAsync("ab12cd34"))!.EndReason);
    }
}
