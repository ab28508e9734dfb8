using Gateway.Api.Calls;
using Gateway.Api.Configuration;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Api.Tests.Calls;

/// <summary>The registry against the event orders of onsip-xmpp-api.md §4.6 and the races of seed note [1].</summary>
public sealed class CallRegistryTests : IDisposable
{
    private const string Alice = "sip:alice@example.onsip.com";
    private const string Bob = "sip:bob@example.onsip.com";
    private const string Node = "/example.onsip.com/alice";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.Zero));
    private readonly CallRegistryOptions _options = new();
    private readonly CallRegistry _registry;
    private readonly CallEventSubscription _stream;

    public CallRegistryTests()
    {
        _registry = new CallRegistry(Options.Create(_options), _time, NullLogger<CallRegistry>.Instance);
        _stream = _registry.Subscribe();
    }

    public void Dispose()
    {
        _stream.Dispose();
        _registry.Dispose();
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

    private List<string> Drain()
    {
        var types = new List<string>();
        while (_stream.Reader.TryRead(out var e)) types.Add($"{e.Sequence}:{e.Type}");
        return types;
    }

    private CallResource Create(string setupId = "ab12cd34")
    {
        var ticket = _registry.BeginCreate(setupId, Alice, Bob, "test-key");
        return _registry.CompleteCreate(ticket, setupId);
    }

    [Fact]
    public void ClickToCallFollowsTheOnSipEventOrder()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node);
        _registry.ApplyItemPublished(CalleeLeg("created"), "item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node);
        _registry.ApplyItemRetracted("item-setup", Node);
        Assert.Equal(CallState.Connected, _registry.Find("ab12cd34")!.State);
        _registry.ApplyItemRetracted("item-callee", Node);

        Assert.Equal(
            ["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.callee-ringing", "5:call.connected", "6:call.updated", "7:call.ended"],
            Drain());
        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallState.Ended, call.State);
        Assert.Equal(CallEndReason.Completed, call.EndReason);
        Assert.Equal([LegRole.Caller, LegRole.Callee], call.Legs.Select(l => l.Role));
        Assert.All(call.Legs, l => Assert.False(l.Active));
    }

    [Fact]
    public void EventsBeforeTheCreateResultAreHeldAndReleasedAfterCallRequested()
    {
        var ticket = _registry.BeginCreate("ab12cd34", Alice, Bob, "test-key");
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node);

        Assert.Empty(Drain());
        Assert.Null(_registry.Find("ab12cd34"));

        var call = _registry.CompleteCreate(ticket, "ab12cd34");

        Assert.Equal(CallState.CallerAnswered, call.State);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered"], Drain());
    }

    [Fact]
    public void EarlyEventsUnderAnotherCallSetupIdJoinTheCallTheComponentNamed()
    {
        var ticket = _registry.BeginCreate("sent0001", Alice, Bob, "test-key");
        _registry.ApplyItemPublished(SetupLeg("requested", setupId: "given001"), "item-setup", Node);

        var call = _registry.CompleteCreate(ticket, "given001");

        Assert.Equal("given001", call.Id);
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Null(_registry.Find("sent0001"));
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], Drain());
    }

    [Fact]
    public void DuplicatedAndReorderedItemsProduceNoDuplicatedOrReorderedEvents()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node); // a late, stale publish
        _registry.ApplyItemPublished(CalleeLeg("created"), "item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("created"), "item-callee", Node);
        _registry.ApplyItemRetracted("item-setup", Node);
        _registry.ApplyItemRetracted("item-callee", Node);
        _registry.ApplyItemRetracted("item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt2"), "item-callee", Node); // publish after retract

        Assert.Equal(
            ["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.callee-ringing", "5:call.connected", "6:call.updated", "7:call.ended"],
            Drain());
        var events = _registry.GetEvents("ab12cd34")!.Value.Events;
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(events.Select(e => $"ab12cd34.{e.Sequence}"), events.Select(e => e.Id));
    }

    [Fact]
    public void AnOlderPublishTimeDoesNotOverwriteANewerLeg()
    {
        Create();
        var t = new DateTimeOffset(2026, 1, 15, 9, 0, 10, TimeSpan.Zero);
        _registry.ApplyItemPublished(CalleeLeg("created") with { PublishTime = t, FromDisplay = "new" }, "item-callee", Node);
        _registry.ApplyItemPublished(CalleeLeg("created") with { PublishTime = t.AddSeconds(-5), FromDisplay = "old" }, "item-callee", Node);

        Assert.Equal("new", _registry.Find("ab12cd34")!.Legs.Single().FromDisplay);
    }

    [Fact]
    public void SetupLegEndingBeforeTheCalleeLegAppearsIsNotTheEndOfTheCall()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node);
        _registry.ApplyItemRetracted("item-setup", Node); // OnSIP: the phone BYEs the setup dialog after the REFER

        Assert.Equal(CallState.CallerAnswered, _registry.Find("ab12cd34")!.State);
        _registry.ApplyItemPublished(CalleeLeg("created"), "item-callee", Node);
        Assert.Equal(CallState.CalleeRinging, _registry.Find("ab12cd34")!.State);
    }

    [Fact]
    public void CallerAnsweredWithoutACalleeLegEndsAfterTheGrace()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node);
        _registry.ApplyItemRetracted("item-setup", Node);

        _time.Advance(_options.CalleeLegGrace + TimeSpan.FromSeconds(1));

        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallState.Ended, call.State);
        Assert.Equal(CallEndReason.CalleeNotReached, call.EndReason);
    }

    [Fact]
    public void CallerNotAnsweringEndsTheCallWithThatReason()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemRetracted("item-setup", Node);

        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallEndReason.CallerNotAnswered, call.EndReason);
    }

    [Fact]
    public void InboundCallForkedToSeveralPhonesIsOneCallKeyedByItsSipCallId()
    {
        ActiveCallItem Fork(string branch, string state, string? toTag = null) => new()
        {
            DialogStateText = state, CallId = "inbound-1", FromUri = "sip:carol@example.com", ToUri = Alice,
            ToAor = "alice@example.onsip.com", FromTag = "ft-in", ToTag = toTag, Branch = branch,
        };
        _registry.ApplyItemPublished(Fork("b1", "requested"), "item-1", Node);
        _registry.ApplyItemPublished(Fork("b2", "requested"), "item-2", Node);
        _registry.ApplyItemPublished(Fork("b1", "confirmed", "tt-in"), "item-1", Node);
        _registry.ApplyItemRetracted("item-2", Node);

        var call = _registry.Find("inbound-1")!;
        Assert.Equal(CallRegistry.PlainCallId("inbound-1"), call.Id);
        Assert.Null(call.CallSetupId);
        Assert.Equal(CallState.Connected, call.State);
        Assert.Equal("sip:carol@example.com", call.From);
        Assert.Equal(2, call.Legs.Count);
        // The second phone ringing and its retraction change only the legs: call.updated, so clients see every leg.
        Assert.Equal(["1:call.callee-ringing", "2:call.updated", "3:call.connected", "4:call.updated"], Drain());
    }

    [Fact]
    public void UnclaimedCallSetupIdEventsArePublishedAfterTheHoldTime()
    {
        _registry.ApplyItemPublished(SetupLeg("requested", setupId: "other123"), "item-x", Node);
        Assert.Null(_registry.Find("other123"));

        _time.Advance(_options.EarlyEventHoldTime + TimeSpan.FromSeconds(1));

        var call = _registry.Find("other123")!;
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Equal(Alice, call.From);
        Assert.Equal(["1:call.caller-ringing"], Drain());
    }

    [Fact]
    public void FailedCreateIsForgottenAndTimedOutCreateIsKeptIfLegsShowUp()
    {
        var failed = _registry.BeginCreate("fail0001", Alice, Bob, null);
        _registry.AbandonCreate(failed, outcomeUnknown: false);
        Assert.Equal(0, _registry.Count);

        var unknown = _registry.BeginCreate("late0001", Alice, Bob, null);
        _registry.AbandonCreate(unknown, outcomeUnknown: true);
        _registry.ApplyItemPublished(SetupLeg("requested", setupId: "late0001"), "item-late", Node);
        _time.Advance(_options.EarlyEventHoldTime + TimeSpan.FromSeconds(1));

        var call = _registry.Find("late0001")!;
        Assert.Equal(CallState.CallerRinging, call.State);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], Drain());
    }

    [Fact]
    public void ACallSetupIdInUseIsRefused()
    {
        Create();
        Assert.Throws<CallSetupIdInUseException>(() => _registry.BeginCreate("ab12cd34", Alice, Bob, null));
    }

    [Fact]
    public void HangupPlanTerminatesAnsweredDialogsAndCancelsRingingOnes()
    {
        Create();
        Assert.IsType<HangupPlan.NotReady>(_registry.PlanHangup("ab12cd34"));

        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        var ringing = Assert.IsType<HangupPlan.Send>(_registry.PlanHangup("ab12cd34"));
        Assert.Equal([new HangupCommand("setup-dialog-1", "ft-setup", null)], ringing.Commands);

        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node);
        _registry.ApplyItemPublished(CalleeLeg("created"), "item-callee", Node);
        var mixed = Assert.IsType<HangupPlan.Send>(_registry.PlanHangup("ab12cd34"));
        Assert.Equal([new HangupCommand("setup-dialog-1", "ft-setup", "tt-setup"), new HangupCommand("callee-dialog-2", "ft-callee", null)], mixed.Commands);

        _registry.ApplyItemRetracted("item-setup", Node);
        _registry.ApplyItemRetracted("item-callee", Node);
        Assert.IsType<HangupPlan.AlreadyEnded>(_registry.PlanHangup("ab12cd34"));
        Assert.Null(_registry.PlanHangup("unknown1"));
    }

    [Fact]
    public void HangupThroughTheApiSetsTheEndReason()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.RecordHangupRequested("ab12cd34", terminate: false);
        _registry.ApplyItemRetracted("item-setup", Node);

        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallEndReason.Canceled, call.EndReason);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.hangup-requested", "4:call.ended"], Drain());
    }

    [Fact]
    public void LegsRetractedBeforeTheHangupCommandIsAnsweredEndTheCallAsTerminatedNotCompleted()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node);

        // The component retracts the legs before its IQ result reaches us.
        _registry.BeginHangup("ab12cd34", terminate: true);
        _registry.ApplyItemRetracted("item-setup", Node);
        _registry.ApplyItemRetracted("item-callee", Node);

        Assert.Equal(CallEndReason.Terminated, _registry.Find("ab12cd34")!.EndReason);
    }

    [Fact]
    public void AnAbandonedHangupLeavesTheCallToEndForItsOwnReason()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt-setup"), "item-setup", Node);
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt-callee"), "item-callee", Node);
        _registry.BeginHangup("ab12cd34", terminate: true);
        _registry.AbandonHangup("ab12cd34"); // the command failed (e.g. 503)

        _registry.ApplyItemRetracted("item-setup", Node);
        _registry.ApplyItemRetracted("item-callee", Node);
        Assert.Equal(CallEndReason.Completed, _registry.Find("ab12cd34")!.EndReason);
    }

    [Fact]
    public void ADeferredHangupBecomesReadyWhenTheFirstLegAppearsAndIsTakenOnce()
    {
        Create();
        Assert.NotNull(_registry.DeferHangup("ab12cd34"));
        Assert.False(_registry.ReadyHangups.TryRead(out _));

        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);

        Assert.True(_registry.ReadyHangups.TryRead(out var id));
        var plan = _registry.TakeDeferredHangup(id)!;
        Assert.Equal([new HangupCommand("setup-dialog-1", "ft-setup", null)], plan.Commands);
        Assert.Null(_registry.TakeDeferredHangup(id));
    }

    [Fact]
    public void EndedCallsAreForgottenAfterTheRetention()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemRetracted("item-setup", Node);
        _time.Advance(_options.EndedRetention - TimeSpan.FromSeconds(2));
        Assert.NotNull(_registry.Find("ab12cd34"));

        _time.Advance(TimeSpan.FromSeconds(3));

        Assert.Null(_registry.Find("ab12cd34"));
        Assert.Null(_registry.Find("setup-dialog-1"));
    }

    [Fact]
    public void ACallWithNoEventEndsAfterTheSetupTimeout()
    {
        Create();
        _time.Advance(_options.SetupTimeout + TimeSpan.FromSeconds(1));

        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallEndReason.SetupTimeout, call.EndReason);
    }

    [Fact]
    public void TheRegistryIsBounded()
    {
        _options.MaxCalls = 10;
        for (var i = 0; i < 15; i++) _registry.ApplyItemPublished(CalleeLeg("created", setupId: null!) with { CallSetupId = null, CallId = $"call-{i}" }, $"item-{i}", Node);

        Assert.InRange(_registry.Count, 9, 10);
        Assert.Null(_registry.Find("call-0"));
        Assert.NotNull(_registry.Find("call-14"));
    }

    [Fact]
    public void AFullRegistryForgetsEndedCallsBeforeLiveOnes()
    {
        _options.MaxCalls = 10;
        for (var i = 0; i < 10; i++)
        {
            var leg = CalleeLeg("confirmed", setupId: null!) with { CallSetupId = null, CallId = $"call-{i}" };
            _registry.ApplyItemPublished(leg, $"item-{i}", Node);
            if (i >= 5) _registry.ApplyItemRetracted($"item-{i}", Node);
        }
        _time.Advance(TimeSpan.FromMinutes(1));

        _registry.ApplyItemPublished(CalleeLeg("confirmed", setupId: null!) with { CallSetupId = null, CallId = "call-new" }, "item-new", Node);

        for (var i = 0; i < 5; i++) Assert.NotNull(_registry.Find($"call-{i}"));
        Assert.NotNull(_registry.Find("call-new"));
        Assert.True(_registry.Count <= 10);
    }

    [Fact]
    public void ListFiltersByAddressAndStateAndPagesWithACursor()
    {
        for (var i = 0; i < 5; i++) Create($"call000{i}");
        _registry.ApplyItemPublished(SetupLeg("requested", setupId: "call0000"), "item-setup", Node);

        var (first, next) = _registry.List(null, null, 0, 2);
        Assert.Equal(["call0000", "call0001"], first.Select(c => c.Id));
        var (second, _) = _registry.List(null, null, next!.Value, 2);
        Assert.Equal(["call0002", "call0003"], second.Select(c => c.Id));

        var (ringing, _) = _registry.List(null, CallState.CallerRinging, 0, 10);
        Assert.Equal(["call0000"], ringing.Select(c => c.Id));
        var (byAddress, _) = _registry.List("bob@example.onsip.com", null, 0, 10);
        Assert.Equal(5, byAddress.Count);
        var (none, _) = _registry.List("sip:nobody@example.com", null, 0, 10);
        Assert.Empty(none);
    }

    [Fact]
    public void ASubscriberKeepsEveryEventHoweverFarItFallsBehind()
    {
        using var lossless = _registry.Subscribe();
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "item-setup", Node);
        _registry.ApplyItemPublished(SetupLeg("confirmed", toTag: "tt"), "item-setup", Node);
        _registry.ApplyItemPublished(CalleeLeg("requested"), "item-callee", "/example.onsip.com/bob");
        _registry.ApplyItemPublished(CalleeLeg("confirmed", toTag: "tt-2"), "item-callee", "/example.onsip.com/bob");

        var types = new List<string>();
        while (lossless.Reader.TryRead(out var e)) types.Add($"{e.Sequence}:{e.Type}");
        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.callee-ringing", "5:call.connected"], types);
    }

    [Fact]
    public void ReconcileEmitsMissedTransitionsAndEndsLegsThatVanishedButSparesLegsSeenAfterTheSnapshot()
    {
        Create();
        _registry.ApplyItemPublished(SetupLeg("requested"), "setup-item", Node);
        _registry.ApplyItemPublished(CalleeLeg("requested"), "callee-item", "/example.onsip.com/bob");
        _registry.ApplyItemPublished(new ActiveCallItem { DialogStateText = "requested", CallId = "other-dialog", FromUri = Bob, ToUri = Alice, FromTag = "x" }, "other-item", Node);
        Drain();
        var snapshotAt = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(10));
        // A leg first seen after the fetch was asked for: not in the snapshot, but alive.
        _registry.ApplyItemPublished(new ActiveCallItem { DialogStateText = "requested", CallId = "late-dialog", FromUri = Bob, ToUri = Alice, FromTag = "y" }, "late-item", Node);
        Drain();

        // Now: the callee answered (missed) and the setup leg and the other call are gone.
        var result = _registry.Reconcile([("callee-item", "/example.onsip.com/bob", CalleeLeg("confirmed", toTag: "tt-2"))], snapshotAt);

        Assert.Equal(new ReconcileResult(1, 2), result);
        var call = _registry.Find("ab12cd34")!;
        Assert.Equal(CallState.Connected, call.State);
        Assert.False(call.Legs.Single(l => l.ItemId == "setup-item").Active);
        Assert.Equal(CallState.Ended, _registry.Find(CallRegistry.PlainCallId("other-dialog"))!.State);
        Assert.Equal(CallState.CalleeRinging, _registry.Find(CallRegistry.PlainCallId("late-dialog"))!.State);
        Assert.Equal(["call.connected", "call.ended", "call.updated"], Drain().Select(e => e[(e.IndexOf(':') + 1)..]).Order());

        // Reconciling again with nothing left ends the connected call as completed.
        _registry.Reconcile([]);
        Assert.Equal(CallEndReason.Completed, _registry.Find("ab12cd34")!.EndReason);
    }
}
