using System.Text.Json;
using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Tests.Calls.Store;

/// <summary>Calls made the way the gateway makes them: through <see cref="CallStateMachine"/>.</summary>
internal static class CallFixtures
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly CallTimings Timings = CallTimings.Default;

    public static ActiveCallItem Item(string sipCallId, ActiveCallDialogState state, string to = "sip:bob@example.com", string? callSetupId = null) => new()
    {
        DialogState = state,
        CallId = sipCallId,
        FromUri = "sip:alice@example.com",
        ToUri = to,
        FromTag = "ft-" + sipCallId,
        ToTag = state == ActiveCallDialogState.Confirmed ? "tt-" + sipCallId : null,
        CallSetupId = callSetupId,
    };

    /// <summary>A call not made by the API (visible at once), ringing <paramref name="to"/> on one leg.</summary>
    public static CallTransition Ringing(string sipCallId, DateTimeOffset at, string to = "sip:bob@example.com")
    {
        var item = Item(sipCallId, ActiveCallDialogState.Requested, to);
        var itemId = "item-" + sipCallId;
        return CallStateMachine.ApplyPublished(CallStateMachine.NewFromItem(item, itemId, at, Timings), item, itemId, "/example.com/bob", at, Timings);
    }

    /// <summary>The call answered, then its leg retracted: ended (completed) at <paramref name="endedAt"/>.</summary>
    public static (TrackedCall Call, List<CallEvent> Events) Ended(string sipCallId, DateTimeOffset at, DateTimeOffset endedAt)
    {
        var ringing = Ringing(sipCallId, at);
        var item = Item(sipCallId, ActiveCallDialogState.Confirmed);
        var answered = CallStateMachine.ApplyPublished(ringing.Call, item, "item-" + sipCallId, "/example.com/bob", at, Timings);
        var ended = CallStateMachine.ApplyRetracted(answered.Call, "item-" + sipCallId, endedAt, Timings);
        return (ended.Call, [.. ringing.Events, .. answered.Events, .. ended.Events]);
    }

    /// <summary>A call the API is creating, with a status callback: held (not visible) until the create completes.</summary>
    public static TrackedCall Creating(string callSetupId, DateTimeOffset at) =>
        CallStateMachine.BeginCreate(null, callSetupId, "sip:alice@example.com", "sip:bob@example.com", "key-1", at,
            new CallStatusCallback { Url = "https://hooks.example.com/calls?tenant=7", Events = ["call.connected", "call.ended"] });

    public static CallCommit Commit(CallTransition transition) => new() { Calls = [transition.Call], Events = transition.Events };

    public static CallCommit Commit(TrackedCall call, IReadOnlyList<CallEvent>? events = null) => new() { Calls = [call], Events = events ?? [] };

    /// <summary>A value's every field (offsets of times included) as JSON: records compare ImmutableArrays by reference.</summary>
    public static string AsJson<T>(T value) => JsonSerializer.Serialize(value);

    public static void AssertSame(TrackedCall? expected, TrackedCall? actual)
    {
        Assert.NotNull(expected);
        Assert.NotNull(actual);
        // The revision is the store's bookkeeping, not the call: a shared store counts writes, the others give 0.
        Assert.Equal(AsJson(expected with { Version = 0 }), AsJson(actual with { Version = 0 }));
    }

    public static CommandIntent Intent(string id, string callId, DateTimeOffset at) => new()
    {
        Id = id,
        CallId = callId,
        Kind = CommandIntentKind.Transfer,
        Endpoint = Gateway.Api.Commands.TransferEndpoint.Callee,
        Target = "sip:carol@example.com",
        CreatedAt = at,
        NextAttemptAt = at.AddSeconds(1),
    };
}
