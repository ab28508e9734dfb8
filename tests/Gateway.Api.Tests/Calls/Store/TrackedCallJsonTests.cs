using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Xmpp.ActiveCalls;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;

namespace Gateway.Api.Tests.Calls.Store;

public sealed class TrackedCallJsonTests
{
    private static readonly TimeSpan Paris = TimeSpan.FromHours(2);
    private static readonly TimeSpan Kolkata = new(5, 30, 0);

    [Fact]
    public void ACallRoundTripsExactly()
    {
        var at = new DateTimeOffset(2026, 3, 1, 14, 0, 0, Paris).AddTicks(1234567);
        var call = Creating("abcd1234", at) with
        {
            Visible = false,
            HoldUntil = at.AddSeconds(10).ToOffset(Kolkata),
            State = CallState.Ended,
            EndReason = CallEndReason.Terminated,
            EndedAt = at.AddMinutes(3).ToOffset(-Kolkata),
            LastRetractAt = at.AddMinutes(3),
            GraceUntil = at.AddMinutes(4),
            Hangup = CallEndReason.Terminated,
            LastSequence = 7,
            Legs =
            [
                Leg("l-unknown", new ActiveCallItem { DialogStateText = "Early", CallId = "sip-1" }, at),
                Leg("l-none", new ActiveCallItem(), at),
                Leg("l-created", Item("sip-1", ActiveCallDialogState.Created) with { ToAor = "bob@example.com", Branch = "z9hG4bK-1" }, at),
                Leg("l-requested", Item("sip-1", ActiveCallDialogState.Requested) with { FromDisplay = "\"Alice\"", ToDisplay = "Bob" }, at) with { Role = LegRole.Caller },
                Leg("l-confirmed", Item("sip-1", ActiveCallDialogState.Confirmed, callSetupId: "abcd1234") with { PublishTime = at.ToOffset(Kolkata) }, at)
                    with { Retracted = true, EndedAt = at.AddMinutes(2) },
            ],
        };
        call = call with
        {
            Held =
            [
                new PendingEvent(CallStateMachine.HangupFailed, at.AddSeconds(5), call.ToResource(), "refused"),
                new PendingEvent(CallStateMachine.Updated, at.AddSeconds(6).ToOffset(Kolkata), call.ToResource()),
            ],
        };

        var back = TrackedCallJson.DeserializeCall(TrackedCallJson.Serialize(call));

        AssertSame(call, back);
        Assert.Equal(TrackedCallJson.Serialize(call), TrackedCallJson.Serialize(back));
        Assert.Equal(call.Legs.Select(l => (l.Item.DialogState, l.Item.DialogStateText)), back.Legs.Select(l => (l.Item.DialogState, l.Item.DialogStateText)));
        Assert.Equal((ActiveCallDialogState.Unknown, "Early"), (back.Legs[0].Item.DialogState, back.Legs[0].Item.DialogStateText));
        Assert.True(call.EndedAt!.Value.EqualsExact(back.EndedAt!.Value));
        Assert.True(call.Held[1].OccurredAt.EqualsExact(back.Held[1].OccurredAt));
        Assert.Equal(call.Legs, back.Legs);
    }

    [Fact]
    public void AnEventRoundTripsExactly()
    {
        var (_, events) = Ended("sip-1", new DateTimeOffset(2026, 3, 1, 14, 0, 0, Paris), new DateTimeOffset(2026, 3, 1, 14, 1, 0, Paris));
        var failed = events[0] with { Type = CallStateMachine.TransferFailed, Reason = "busy" };

        foreach (var e in events.Append(failed))
            Assert.Equal(AsJson(e), AsJson(TrackedCallJson.DeserializeEvent(TrackedCallJson.Serialize(e))));
    }

    private static TrackedLeg Leg(string itemId, ActiveCallItem item, DateTimeOffset at) => new()
    {
        ItemId = itemId,
        Node = "/example.com/bob",
        Item = item,
        Role = LegRole.Callee,
        FirstSeenAt = at,
        LastSeenAt = at.AddSeconds(1).ToOffset(Kolkata),
    };
}
