using System.Diagnostics;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Service.PubSub;

/// <summary>
/// Publishes what the SIP engine reports on Active-Calls PubSub: each leg is an item, id <see cref="CallLeg.ItemId"/>, on
/// the leaf of <see cref="CallLeg.OwnerAddress"/>; an update re-publishes the same id (<c>requested</c>/<c>created</c> →
/// <c>confirmed</c>), the end of a leg retracts it.
/// </summary>
/// <remarks>Legs whose owner address is not a user of the users file have no leaf: they are neither published nor kept
/// (logged at debug), since nobody could be authorised to see them. Publishing never throws into the engine because a
/// notification could not be delivered; the items stay for <c>items</c> requests.</remarks>
public sealed class ActiveCallsPublisher(ActiveCallsPubSubComponent pubSub, ILogger<ActiveCallsPublisher>? logger = null) : ICallLegObserver
{
    private readonly ActiveCallsPubSubComponent _pubSub = pubSub ?? throw new ArgumentNullException(nameof(pubSub));
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;

    public async Task LegUpdatedAsync(CallLeg leg, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leg);
        using var span = StartSpan("pubsub.publish", leg);
        if (await _pubSub.PublishAsync(leg.OwnerAddress, leg.ItemId, ToItem(leg), cancellationToken)) ServiceMetrics.Published("publish");
        else
            _logger.LogDebug("Leg {ItemId} of call {CallId} not published: '{Owner}' is not a user of this service", leg.ItemId, leg.CallId, leg.OwnerAddress);
    }

    public async Task LegEndedAsync(CallLeg leg, LegEnd end, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leg);
        ArgumentNullException.ThrowIfNull(end);
        using var span = StartSpan("pubsub.retract", leg);
        if (await _pubSub.RetractAsync(leg.OwnerAddress, leg.ItemId, cancellationToken))
        {
            ServiceMetrics.Published("retract");
            _logger.LogDebug("Leg {ItemId} of call {CallId} at {Owner} ended: {Reason} {Status}", leg.ItemId, leg.CallId, leg.OwnerAddress, end.Reason, end.SipStatus);
        }
        else
            _logger.LogDebug("Leg {ItemId} of call {CallId} ended but was never published at '{Owner}'", leg.ItemId, leg.CallId, leg.OwnerAddress);
    }

    /// <summary>A producer span in the call's trace: the engine runs a call's steps in the context of the command that
    /// created it.</summary>
    private static Activity? StartSpan(string name, CallLeg leg)
    {
        var span = ServiceTracing.Source.StartActivity(name, ActivityKind.Producer);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("messaging.system", "xmpp-pubsub");
            span.SetTag("messaging.destination.name", leg.OwnerAddress);
            span.SetTag("pubsub.item.id", leg.ItemId);
            span.SetTag("activecalls.call_setup_id", leg.CallSetupId);
            span.SetTag("activecalls.dialog_state", leg.State.ToString().ToLowerInvariant());
        }
        return span;
    }

    /// <summary>The <c>onsip:active-calls</c> payload of a leg; <c>publish-time</c> is the leg's timestamp.</summary>
    public static ActiveCallItem ToItem(CallLeg leg)
    {
        ArgumentNullException.ThrowIfNull(leg);
        return new ActiveCallItem
        {
            DialogState = leg.State switch
            {
                LegState.Created => ActiveCallDialogState.Created,
                LegState.Requested => ActiveCallDialogState.Requested,
                LegState.Confirmed => ActiveCallDialogState.Confirmed,
                _ => throw new ArgumentOutOfRangeException(nameof(leg), leg.State, "Unknown leg state."),
            },
            // to-aor is an AOR without the scheme (OnSIP: foo@example.onsip.com).
            ToAor = leg.ToAor is { } aor && aor.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? aor[4..] : leg.ToAor,
            CallId = leg.CallId,
            FromUri = leg.FromUri,
            ToUri = leg.ToUri,
            FromTag = leg.FromTag,
            ToTag = leg.ToTag,
            Branch = leg.Branch,
            CallSetupId = leg.CallSetupId,
            FromDisplay = leg.FromDisplay,
            ToDisplay = leg.ToDisplay,
            PublishTime = leg.Timestamp,
        };
    }
}
