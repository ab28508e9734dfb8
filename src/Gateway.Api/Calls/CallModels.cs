using System.ComponentModel;
using System.Text.Json.Serialization;

namespace Gateway.Api.Calls;

/// <summary>The summarised state of a call, derived from its legs.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CallState>))]
public enum CallState
{
    /// <summary>The create command was accepted; no leg has been seen yet.</summary>
    [JsonStringEnumMemberName("requested")] Requested,
    /// <summary>The caller's phone(s) ring (the call-setup leg).</summary>
    [JsonStringEnumMemberName("caller-ringing")] CallerRinging,
    /// <summary>The caller answered; the callee is being dialled.</summary>
    [JsonStringEnumMemberName("caller-answered")] CallerAnswered,
    /// <summary>The callee is being dialled or rings (for calls not made through the API: the ringing side).</summary>
    [JsonStringEnumMemberName("callee-ringing")] CalleeRinging,
    /// <summary>Both parties are talking.</summary>
    [JsonStringEnumMemberName("connected")] Connected,
    /// <summary>Over; see <c>endReason</c>.</summary>
    [JsonStringEnumMemberName("ended")] Ended,
}

/// <summary>Why a call ended, as far as the gateway can tell (a PubSub retract carries no reason).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CallEndReason>))]
public enum CallEndReason
{
    /// <summary>The parties talked and hung up.</summary>
    [JsonStringEnumMemberName("completed")] Completed,
    /// <summary>The caller's phone stopped ringing without answering (declined, busy or no answer).</summary>
    [JsonStringEnumMemberName("caller-not-answered")] CallerNotAnswered,
    /// <summary>The callee did not answer.</summary>
    [JsonStringEnumMemberName("callee-not-answered")] CalleeNotAnswered,
    /// <summary>The caller answered but no callee leg appeared in time.</summary>
    [JsonStringEnumMemberName("callee-not-reached")] CalleeNotReached,
    /// <summary>Hung up through the API before it was connected (cancel).</summary>
    [JsonStringEnumMemberName("canceled")] Canceled,
    /// <summary>Hung up through the API while connected (terminate).</summary>
    [JsonStringEnumMemberName("terminated")] Terminated,
    /// <summary>No event arrived for the call within the setup timeout.</summary>
    [JsonStringEnumMemberName("setup-timeout")] SetupTimeout,
    /// <summary>Its legs vanished upstream while the gateway was not receiving their events (a reconciliation with the
    /// service's current items found none of them): it is over, how it ended is unknown.</summary>
    [JsonStringEnumMemberName("lost")] Lost,
}

/// <summary>Which side of a click-to-call a leg belongs to.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LegRole>))]
public enum LegRole
{
    /// <summary>The call-setup leg ringing the <c>from</c> party.</summary>
    [JsonStringEnumMemberName("caller")] Caller,
    /// <summary>The leg towards the <c>to</c> party (or any leg of a call not made through the API).</summary>
    [JsonStringEnumMemberName("callee")] Callee,
}

/// <summary>A call: its identity, the request that made it, its summarised state and its legs.</summary>
public sealed record CallResource
{
    /// <summary>The call's id: its call-setup-id, or for calls not made through a create command <c>c_</c> + a hash of the SIP Call-ID.</summary>
    [Description("The call's id: its call-setup-id (8 alphanumerics) for calls placed through the API.")]
    public required string Id { get; init; }

    [Description("The call-setup-id carried end to end by every leg of a click-to-call; null for other calls.")]
    public string? CallSetupId { get; init; }

    [Description("The party rung first (the create request's from).")]
    public string? From { get; init; }

    [Description("The party connected to the caller (the create request's to).")]
    public string? To { get; init; }

    [Description("The summarised state.")]
    public required CallState State { get; init; }

    [Description("Why the call ended (only when state is ended).")]
    public CallEndReason? EndReason { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }

    [Description("Every leg seen for the call: one per SIP dialog at one user agent (one PubSub item).")]
    public required IReadOnlyList<CallLegResource> Legs { get; init; }

    [Description("Where the call's events are POSTed, when its create request named a statusCallback (no secret: deliveries are signed with the placing API key's status-callback secret).")]
    public CallStatusCallback? StatusCallback { get; init; }
}

/// <summary>The per-call status callback named by <c>POST /calls</c>: the call's own webhook target.</summary>
public sealed record CallStatusCallback
{
    [Description("The URL every event of this call is POSTed to (Standard Webhooks, like a registered webhook).")]
    public required string Url { get; init; }

    [Description("Only these event types are sent; null for every type.")]
    public IReadOnlyList<string>? Events { get; init; }
}

/// <summary>One call leg: a PubSub item of the Active-Calls service (one SIP dialog at one user agent).</summary>
public sealed record CallLegResource
{
    [Description("The PubSub item id (stable for the leg).")]
    public required string ItemId { get; init; }

    [Description("The PubSub node the leg was published on (/<domain>/<user>).")]
    public string? Node { get; init; }

    public required LegRole Role { get; init; }

    [Description("The raw dialog-state: created, requested or confirmed.")]
    public string? DialogState { get; init; }

    [Description("Whether the leg is still up (its item has not been retracted).")]
    public required bool Active { get; init; }

    public string? CallId { get; init; }
    public string? FromUri { get; init; }
    public string? ToUri { get; init; }
    public string? FromTag { get; init; }
    public string? ToTag { get; init; }
    public string? Branch { get; init; }
    public string? ToAor { get; init; }
    public string? CallSetupId { get; init; }
    public string? FromDisplay { get; init; }
    public string? ToDisplay { get; init; }
    public DateTimeOffset? PublishTime { get; init; }
    public required DateTimeOffset FirstSeenAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>Something that happened to a call. The same shape goes to SSE, SignalR and webhooks.</summary>
public sealed record CallEvent
{
    [Description("Stable event id ({callId}.{sequence}); use it to drop duplicates.")]
    public required string Id { get; init; }

    [Description("call.requested, call.caller-ringing, call.caller-answered, call.callee-ringing, call.connected, call.ended, call.hangup-requested, call.hangup-failed, call.transfer-requested, call.transfer-failed; call.updated when only a leg changed (the call's state did not).")]
    public required string Type { get; init; }

    [Description("Per-call sequence number, from 1, without gaps.")]
    public required long Sequence { get; init; }

    public required DateTimeOffset OccurredAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [Description("Why, for call.hangup-failed and call.transfer-failed (the component's refusal or the last error); null otherwise.")]
    public string? Reason { get; init; }

    [Description("The call as it was right after the event.")]
    public required CallResource Call { get; init; }
}

/// <summary>One page of calls.</summary>
public sealed record CallPage(
    [property: Description("The calls of this page, oldest first.")] IReadOnlyList<CallResource> Items,
    [property: Description("Pass as cursor to get the next page; null on the last page.")] string? NextCursor);

/// <summary>A call's event history.</summary>
public sealed record CallEventList(
    [property: Description("The call's id.")] string CallId,
    [property: Description("The events, in sequence order.")] IReadOnlyList<CallEvent> Items);
