using System.Collections.Immutable;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Calls.State;

/// <summary>
/// Everything the gateway knows about one call, as one immutable value: what the store keeps and what
/// <see cref="CallStateMachine"/> turns into the next value. Legs are PubSub items (one SIP dialog at one user agent).
/// </summary>
public sealed record TrackedCall
{
    /// <summary>The call's id: its call-setup-id, or <c>c_</c> + a hash of the SIP Call-ID for calls not made by a create.</summary>
    public required string Id { get; init; }
    public string? CallSetupId { get; init; }
    public string? From { get; init; }
    public string? To { get; init; }
    /// <summary>The API key that created the call, if the API did.</summary>
    public string? Owner { get; init; }
    /// <summary>Where the call's events are POSTed, as its create request asked (the webhook store keeps the deliveries).</summary>
    public CallStatusCallback? StatusCallback { get; init; }
    /// <summary>Created through <c>POST /calls</c>: its first event is <c>call.requested</c>.</summary>
    public bool RequestedByApi { get; init; }
    /// <summary>A create command for it is in flight: its events are held until the create completes.</summary>
    public bool CreateInFlight { get; init; }
    /// <summary>Visible, and its events published; false while its events are held (see <see cref="Held"/>).</summary>
    public bool Visible { get; init; }
    /// <summary>While held without a create in flight: when the held events are released (or the call dropped).</summary>
    public DateTimeOffset? HoldUntil { get; init; }
    /// <summary>Since when nobody knows whether its create was carried out (no answer in time, the stream lost after
    /// sending, the process stopped) while no leg has shown up. The call-setup-id stays taken, so the create is never
    /// sent twice, until a leg shows up (the call becomes visible) or a reconciliation finds none of its items.</summary>
    public DateTimeOffset? OutcomeUnknownSince { get; init; }
    /// <summary>Reconciliations since <see cref="OutcomeUnknownSince"/> that found none of its items.</summary>
    public int OutcomeUnknownMisses { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public CallState State { get; init; } = CallState.Requested;
    public CallEndReason? EndReason { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public DateTimeOffset? LastRetractAt { get; init; }
    /// <summary>When the callee-leg grace runs out (the caller answered, its setup leg ended, no callee leg yet).</summary>
    public DateTimeOffset? GraceUntil { get; init; }
    /// <summary>How the call ends once its legs are gone, because the API hung it up.</summary>
    public CallEndReason? Hangup { get; init; }
    /// <summary>A hang-up intent is outstanding: asking again adds nothing. Cleared when it was carried out or failed (the
    /// <see cref="Hangup"/> reason stays after it was carried out).</summary>
    public bool HangupPending { get; init; }
    public ImmutableArray<TrackedLeg> Legs { get; init; } = [];
    /// <summary>Events of a call that is not yet visible; they get their sequence numbers when it becomes visible.</summary>
    public ImmutableArray<PendingEvent> Held { get; init; } = [];
    /// <summary>The sequence number of the call's last published event (0 before the first).</summary>
    public long LastSequence { get; init; }
    /// <summary>The revision a shared store had of this call when it was read (it counts every write); 0 for a value no
    /// shared store gave. Not part of the call's state: values derived from this one carry it as "worked out from".</summary>
    public long Version { get; init; }

    /// <summary>The W3C <c>traceparent</c> of the request that created the call: its later spans join that trace
    /// (<see cref="Hosting.GatewayTracing"/>). Null when it was not traced.</summary>
    public string? TraceParent { get; init; }

    public bool IsEnded => State == CallState.Ended;

    public TrackedLeg? Leg(string itemId)
    {
        foreach (var leg in Legs)
            if (string.Equals(leg.ItemId, itemId, StringComparison.Ordinal)) return leg;
        return null;
    }

    /// <summary>The call as the API shows it.</summary>
    public CallResource ToResource() => new()
    {
        Id = Id,
        CallSetupId = CallSetupId,
        From = From,
        To = To,
        State = State,
        EndReason = IsEnded ? EndReason : null,
        CreatedAt = CreatedAt,
        UpdatedAt = UpdatedAt,
        EndedAt = EndedAt,
        Legs = [.. Legs.Select(l => l.ToResource())],
        StatusCallback = StatusCallback,
    };
}

/// <summary>One leg: a PubSub item of the Active-Calls service, as last seen.</summary>
public sealed record TrackedLeg
{
    public required string ItemId { get; init; }
    public required string Node { get; init; }
    public required ActiveCallItem Item { get; init; }
    public required LegRole Role { get; init; }
    public required DateTimeOffset FirstSeenAt { get; init; }
    /// <summary>When a notification or a fetch last showed it (reconciliation spares legs seen after its snapshot).</summary>
    public required DateTimeOffset LastSeenAt { get; init; }
    public bool Retracted { get; init; }
    public DateTimeOffset? EndedAt { get; init; }

    public bool IsAnswered => Item.DialogState == ActiveCallDialogState.Confirmed;

    public CallLegResource ToResource() => new()
    {
        ItemId = ItemId,
        Node = Node,
        Role = Role,
        DialogState = Item.DialogStateText,
        Active = !Retracted,
        CallId = Item.CallId,
        FromUri = Item.FromUri,
        ToUri = Item.ToUri,
        FromTag = Item.FromTag,
        ToTag = Item.ToTag,
        Branch = Item.Branch,
        ToAor = Item.ToAor,
        CallSetupId = Item.CallSetupId,
        FromDisplay = Item.FromDisplay,
        ToDisplay = Item.ToDisplay,
        PublishTime = Item.PublishTime,
        FirstSeenAt = FirstSeenAt,
        EndedAt = EndedAt,
    };
}

/// <summary>An event of a held call: published (with a sequence number) when the call becomes visible.</summary>
public sealed record PendingEvent(string Type, DateTimeOffset OccurredAt, CallResource Call, string? Reason = null);

/// <summary>The call after an input, and the events the input produced (already numbered; none while the call is held).</summary>
public sealed record CallTransition(TrackedCall Call, ImmutableArray<CallEvent> Events)
{
    public static CallTransition Unchanged(TrackedCall call) => new(call, []);

    public bool Changed(TrackedCall before) => !ReferenceEquals(before, Call) || !Events.IsEmpty;
}
