using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Xmpp.ActiveCalls;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls;

/// <summary>The pure state machine: a call value and an input in, the next value and its events out; time is an argument.</summary>
public sealed class CallStateMachineTests
{
    private const string Id = "ab12cd34";
    private static readonly DateTimeOffset T0 = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private static readonly CallTimings Timings = CallTimings.Default;

    /// <summary>A call created through the API and visible (its first event, call.requested, published).</summary>
    private static TrackedCall Requested()
    {
        var pending = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);
        return CallStateMachine.CompleteCreate(pending, T0, Timings).Call;
    }

    private static IEnumerable<string> Types(CallTransition transition) => transition.Events.Select(e => $"{e.Sequence}:{e.Type}");

    [Fact]
    public void ACreatedCallIsHeldUntilTheCreateCompletesThenStartsWithCallRequested()
    {
        var pending = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);
        var early = CallStateMachine.ApplyPublished(pending, SetupLeg(Id, "requested"), "item-setup", Node, T0.AddMilliseconds(5), Timings);

        Assert.Empty(early.Events);
        Assert.False(early.Call.Visible);
        var completed = CallStateMachine.CompleteCreate(early.Call, T0.AddMilliseconds(9), Timings);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], Types(completed));
        Assert.Equal(["ab12cd34.1", "ab12cd34.2"], completed.Events.Select(e => e.Id));
        Assert.Equal(CallState.Requested, completed.Events[0].Call.State);
    }

    [Fact]
    public void TheSameItemTwiceIsNoTransition()
    {
        var ringing = CallStateMachine.ApplyPublished(Requested(), SetupLeg(Id, "requested"), "item-setup", Node, T0, Timings).Call;

        var again = CallStateMachine.ApplyPublished(ringing, SetupLeg(Id, "requested"), "item-setup", Node, T0.AddSeconds(1), Timings);

        Assert.Empty(again.Events);
        Assert.Equal(ringing.State, again.Call.State);
        Assert.Equal(ringing.LastSequence, again.Call.LastSequence);
    }

    [Fact]
    public void OnSipsReferOrderKeepsTheCallUpWhileTheCalleeLegIsComing()
    {
        // The answered phone is REFERred to the callee and BYEs the setup dialog before the callee leg is published.
        var call = CallStateMachine.ApplyPublished(Requested(), SetupLeg(Id, "confirmed", "tt"), "item-setup", Node, T0, Timings).Call;
        var setupGone = CallStateMachine.ApplyRetracted(call, "item-setup", T0.AddSeconds(1), Timings);

        Assert.Equal(CallState.CallerAnswered, setupGone.Call.State);
        Assert.Equal(T0.AddSeconds(1) + Timings.CalleeLegGrace, CallStateMachine.NextDeadline(setupGone.Call, Timings));
        var callee = CallStateMachine.ApplyPublished(setupGone.Call, CalleeLeg(Id, "created"), "item-callee", Node, T0.AddSeconds(2), Timings);
        Assert.Equal(["4:call.callee-ringing"], Types(callee));
        Assert.Null(CallStateMachine.NextDeadline(callee.Call, Timings));
    }

    [Fact]
    public void TimeIsAnInputNotAClock()
    {
        var call = Requested();
        Assert.Equal(T0 + Timings.SetupTimeout, CallStateMachine.NextDeadline(call, Timings));

        Assert.Empty(CallStateMachine.Tick(call, T0 + Timings.SetupTimeout - TimeSpan.FromTicks(1), Timings)!.Events);
        var timedOut = CallStateMachine.Tick(call, T0 + Timings.SetupTimeout, Timings)!;

        Assert.Equal(["2:call.ended"], Types(timedOut));
        Assert.Equal(CallEndReason.SetupTimeout, timedOut.Call.EndReason);
    }

    [Fact]
    public void ACreateThatSurelyFailedIsForgotten()
    {
        var pending = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);

        Assert.Null(CallStateMachine.AbandonCreate(pending, outcomeUnknown: false, T0, Timings));
    }

    [Fact]
    public void ACreateOfUnknownOutcomeIsKeptWhateverTheTimeUntilTwoReconciliationsInARowFindNoneOfItsItems()
    {
        var pending = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);
        var unknown = CallStateMachine.AbandonCreate(pending, outcomeUnknown: true, T0, Timings)!.Call;
        var later = T0 + TimeSpan.FromHours(1);

        Assert.Equal(T0, unknown.OutcomeUnknownSince);
        Assert.Null(CallStateMachine.NextDeadline(unknown, Timings));
        Assert.Same(unknown, CallStateMachine.Tick(unknown, later, Timings)!.Call);
        // Fetched too soon after the create to prove anything, or its item is there: kept.
        Assert.Same(unknown, CallStateMachine.ResolveUnknownCreate(unknown, new HashSet<string>(), T0 + Timings.EarlyEventHoldTime / 2, Timings)!.Call);
        Assert.Same(unknown, CallStateMachine.ResolveUnknownCreate(unknown, new HashSet<string> { Id }, later, Timings)!.Call);
        // The first miss may be a fetch answered before a late create's leg was published: one more is needed.
        var missedOnce = CallStateMachine.ResolveUnknownCreate(unknown, new HashSet<string> { "other001" }, later, Timings)!.Call;
        Assert.Equal(1, missedOnce.OutcomeUnknownMisses);
        Assert.Null(CallStateMachine.ResolveUnknownCreate(missedOnce, new HashSet<string> { "other001" }, later + TimeSpan.FromMinutes(1), Timings));
    }

    [Fact]
    public void ACreateOfUnknownOutcomeShowsWithItsFirstLeg()
    {
        var pending = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "key", T0);
        var unknown = CallStateMachine.AbandonCreate(pending, outcomeUnknown: true, T0, Timings)!.Call;

        var shown = CallStateMachine.ApplyPublished(unknown, SetupLeg(Id, "requested"), "item-setup", Node, T0 + TimeSpan.FromMinutes(5), Timings);

        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], Types(shown));
        Assert.Null(shown.Call.OutcomeUnknownSince);
        Assert.True(shown.Call.Visible);
    }

    [Fact]
    public void AHangupIsRequestedOnceAndItsReasonFollowsWhatIsBeingEnded()
    {
        var ringing = CallStateMachine.ApplyPublished(Requested(), SetupLeg(Id, "requested"), "item-setup", Node, T0, Timings).Call;

        var requested = CallStateMachine.RequestHangup(ringing, T0);
        var twice = CallStateMachine.RequestHangup(requested.Call, T0);

        Assert.Equal(["3:call.hangup-requested"], Types(requested));
        Assert.Equal(CallEndReason.Canceled, requested.Call.Hangup);
        Assert.Empty(twice.Events);
        // Answered meanwhile: the attempt that sends a terminate makes it "terminated".
        var answered = CallStateMachine.ApplyPublished(requested.Call, SetupLeg(Id, "confirmed", "tt"), "item-setup", Node, T0, Timings).Call;
        var sending = CallStateMachine.HangupSending(answered, CallStateMachine.PlanHangup(answered));
        Assert.Equal(CallEndReason.Terminated, sending.Hangup);
        Assert.Equal(CallEndReason.Terminated, CallStateMachine.ApplyRetracted(sending, "item-setup", T0, Timings).Call.EndReason);
        // Carried out and the call still up (the component did not end it): asking again asks again.
        var carriedOut = CallStateMachine.HangupCarriedOut(sending);
        Assert.Equal(CallEndReason.Terminated, carriedOut.Hangup);
        Assert.Equal(["5:call.hangup-requested"], Types(CallStateMachine.RequestHangup(carriedOut, T0)));
    }

    [Fact]
    public void LegsThatVanishedWhileNobodyListenedEndTheCallAsLostUnlessItWasBeingHungUp()
    {
        var connected = CallStateMachine.ApplyPublished(Requested(), CalleeLeg(Id, "confirmed", "tt"), "item-callee", Node, T0, Timings).Call;
        var asOf = T0.AddSeconds(1);

        var lost = CallStateMachine.EndVanishedLegs(connected, new HashSet<string>(), asOf, T0.AddSeconds(2), Timings);
        var hungUp = CallStateMachine.EndVanishedLegs(CallStateMachine.RequestHangup(connected, T0).Call, new HashSet<string>(), asOf, T0.AddSeconds(2), Timings);
        var stillThere = CallStateMachine.EndVanishedLegs(connected, new HashSet<string> { "item-callee" }, asOf, T0.AddSeconds(2), Timings);
        var seenAfterTheFetch = CallStateMachine.EndVanishedLegs(connected, new HashSet<string>(), T0.AddMilliseconds(-1), T0.AddSeconds(2), Timings);

        Assert.Equal(CallEndReason.Lost, lost.Call.EndReason);
        Assert.Equal("call.ended", lost.Events[^1].Type);
        Assert.Equal(CallEndReason.Terminated, hungUp.Call.EndReason);
        Assert.Empty(stillThere.Events);
        Assert.Empty(seenAfterTheFetch.Events);
    }

    [Fact]
    public void AnEndedCallIgnoresEverythingButReads()
    {
        var ringing = CallStateMachine.ApplyPublished(Requested(), SetupLeg(Id, "requested"), "item-setup", Node, T0, Timings).Call;
        var ended = CallStateMachine.ApplyRetracted(ringing, "item-setup", T0, Timings).Call;

        Assert.Equal(CallEndReason.CallerNotAnswered, ended.EndReason);
        Assert.Empty(CallStateMachine.ApplyPublished(ended, CalleeLeg(Id, "created"), "item-callee", Node, T0, Timings).Events);
        Assert.Empty(CallStateMachine.RequestHangup(ended, T0).Events);
        Assert.Empty(CallStateMachine.RequestTransfer(ended, T0).Events);
        Assert.Null(CallStateMachine.FindTransferDialog(ended));
        Assert.Null(CallStateMachine.NextDeadline(ended, Timings));
    }

    [Fact]
    public void ALegOfAPlainCallIsKeyedByAHashOfItsSipCallId()
    {
        var item = new ActiveCallItem { DialogStateText = "requested", CallId = "inbound-1", FromUri = "sip:carol@example.com", ToUri = "sip:alice@example.com", FromTag = "f" };

        var call = CallStateMachine.NewFromItem(item, "item-1", T0, Timings);

        Assert.Equal(CallStateMachine.PlainCallId("inbound-1"), call.Id);
        Assert.Matches("^c_[0-9a-f]{16}$", call.Id);
        Assert.True(call.Visible);
        Assert.Equal(["1:call.callee-ringing"], Types(CallStateMachine.ApplyPublished(call, item, "item-1", Node, T0, Timings)));
    }

    [Fact]
    public void ACallWhoseLegsNeverArrivedAndThatTheFetchDoesNotShowEndsAsLostOnceItsFirstLegIsOverdue()
    {
        var call = Requested();

        var early = CallStateMachine.EndVanishedLegs(call, new HashSet<string>(), T0 + Timings.EarlyEventHoldTime - TimeSpan.FromSeconds(1), T0.AddSeconds(30), Timings);
        var overdue = CallStateMachine.EndVanishedLegs(call, new HashSet<string>(), T0 + Timings.EarlyEventHoldTime, T0.AddSeconds(30), Timings);
        var noFetchTime = CallStateMachine.EndVanishedLegs(call, new HashSet<string>(), null, T0.AddSeconds(30), Timings);

        Assert.Empty(early.Events);
        Assert.Empty(noFetchTime.Events);
        Assert.Equal(["2:call.ended"], Types(overdue));
        Assert.Equal(CallEndReason.Lost, overdue.Call.EndReason);
    }

    [Fact]
    public void AHangupWaitingForALegThatNeverArrivesEndsTheCallAsTheHangupOnceTheFetchShowsNone()
    {
        var hangingUp = CallStateMachine.RequestHangup(Requested(), T0.AddSeconds(1)).Call;

        var ended = CallStateMachine.EndVanishedLegs(hangingUp, new HashSet<string>(), T0.AddSeconds(20), T0.AddSeconds(21), Timings);

        Assert.Equal(CallState.Ended, ended.Call.State);
        Assert.Equal(CallEndReason.Canceled, ended.Call.EndReason);
    }
}
