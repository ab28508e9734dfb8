using System.Net;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.CallControl;

/// <summary>
/// Ends a call that a previous run of the engine journalled (<see cref="ICallJournal"/>) and could not end itself: each
/// confirmed dialog is rebuilt from its snapshot, ACKed if its 2xx never was (declining its offer), and hung up; each
/// pending INVITE is CANCELled from the request as sent.
/// </summary>
internal static class RecoveredCall
{
    public static async Task EndAsync(SipUserAgent ua, CallRecord call, ILogger logger, CancellationToken cancellationToken)
    {
        await Task.WhenAll(call.Legs.Select(leg => EndLegAsync(ua, call, leg, logger, cancellationToken)));
        logger.LogInformation("Recovered call {CallSetupId} ({Id}) ended: {Legs} leg(s)", call.CallSetupId, call.Id, call.Legs.Count);
    }

    private static async Task EndLegAsync(SipUserAgent ua, CallRecord call, LegRecord leg, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            if (leg.Dialog is { } snapshot)
            {
                var dialog = SipDialog.Restore(ua, snapshot);
                if (!leg.Acked)
                {
                    var decline = leg.Offer is null ? null : Sdp.RejectAll(leg.Offer);
                    await dialog.SendAckAsync(decline, decline is null ? null : Sdp.ContentType, cancellationToken);
                }
                var response = await dialog.ByeAsync(cancellationToken);
                logger.LogInformation("Recovered call {CallSetupId}: BYE to {Party} on {Dialog} answered {Status}", call.CallSetupId, leg.Party, dialog, response.StatusCode);
            }
            else if (leg.PendingInvite is { } text && SipMessageParser.Parse(text) is SipRequest invite
                && IPEndPoint.TryParse(leg.PendingDestination ?? "", out var destination))
            {
                ua.Transactions.SendRequest(OutgoingInvite.CancelFor(invite, ua.Options.UserAgent), destination, static (_, _) => { });
                logger.LogInformation("Recovered call {CallSetupId}: CANCEL sent to {Party} ({CallId})", call.CallSetupId, leg.Party, invite.CallId);
            }
        }
        catch (Exception e) when (e is SipTransportException or SipParseException or FormatException or ArgumentException or OperationCanceledException)
        {
            logger.LogWarning("Recovered call {CallSetupId}: {Party} could not be hung up: {Error}", call.CallSetupId, leg.Party, e.Message);
        }
    }
}
