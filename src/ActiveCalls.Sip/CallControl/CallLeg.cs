namespace ActiveCalls.Sip.CallControl;

/// <summary>The RFC 4235-style state of a leg as Active-Calls publishes it.</summary>
public enum LegState
{
    /// <summary>We are calling out from this address's user agent (an outbound leg, not answered yet).</summary>
    Created,
    /// <summary>This address's user agent is being called (ringing).</summary>
    Requested,
    /// <summary>Answered.</summary>
    Confirmed,
}

/// <summary>
/// One call leg at one user agent, as the engine reports it. <see cref="ItemId"/> is opaque and stable for the leg's
/// life; <see cref="OwnerAddress"/> (<c>user@domain</c>) is the SIP address whose node the leg is published on.
/// Unknown values are null.
/// </summary>
public sealed record CallLeg(
    string ItemId,
    string OwnerAddress,
    LegState State,
    string CallId,
    string FromUri,
    string ToUri,
    string? FromTag,
    string? ToTag,
    string? Branch,
    string? ToAor,
    string? CallSetupId,
    string? FromDisplay,
    string? ToDisplay,
    DateTimeOffset Timestamp);

/// <summary>Why a leg ended, when known (for logs and, later, the gateway's end reason).</summary>
public sealed record LegEnd(string Reason, int? SipStatus = null);

/// <summary>Receives the engine's leg reports, in order per leg. The service publishes them on Active-Calls PubSub.</summary>
public interface ICallLegObserver
{
    /// <summary>A leg appeared or changed (e.g. <c>requested</c> → <c>confirmed</c>); re-published under the same item id.</summary>
    Task LegUpdatedAsync(CallLeg leg, CancellationToken cancellationToken);

    /// <summary>A leg is gone (hang-up, cancel, failure, losing fork branch): its item is retracted.</summary>
    Task LegEndedAsync(CallLeg leg, LegEnd end, CancellationToken cancellationToken);
}
