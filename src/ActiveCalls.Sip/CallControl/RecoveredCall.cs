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
/// <remarks>The restarted stack has no client transaction for a pending INVITE, so it would not ACK the phone's 487
/// (nor recognise a 2xx). It makes one by sending the INVITE again exactly as it was (same branch, CSeq, tags): the
/// phone takes it for a retransmission, and the responses to it, 487 or a late 2xx, reach a transaction of ours.</remarks>
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
                await CancelAsync(ua, call, leg, invite, destination, logger, cancellationToken);
            }
        }
        catch (Exception e) when (e is SipTransportException or SipParseException or FormatException or ArgumentException or OperationCanceledException)
        {
            logger.LogWarning("Recovered call {CallSetupId}: {Party} could not be hung up: {Error}", call.CallSetupId, leg.Party, e.Message);
        }
    }

    private static async Task CancelAsync(SipUserAgent ua, CallRecord call, LegRecord leg, SipRequest invite, IPEndPoint destination, ILogger logger,
        CancellationToken cancellationToken)
    {
        var transaction = ua.Transactions.SendRequest(invite, destination, static (_, _) => { });
        ua.Transactions.SendRequest(OutgoingInvite.CancelFor(invite, ua.Options.UserAgent), destination, static (_, _) => { });
        logger.LogInformation("Recovered call {CallSetupId}: CANCEL sent to {Party} ({CallId})", call.CallSetupId, leg.Party, invite.CallId);
        var final = await transaction.FinalResponse.WaitAsync(cancellationToken); // a 3xx-6xx is ACKed by the transaction
        if (!final.IsSuccess) return;
        // Answered before the CANCEL arrived: ACK (declining an offer it made) and hang up.
        var dialog = new SipDialog(ua, invite, final, invite.RequestUri.Host);
        ua.Register(dialog);
        var offer = Sdp.IsSdp(final.Body, final.ContentType) && !Sdp.IsSdp(invite.Body, invite.ContentType) ? final.Body : null;
        await dialog.SendAckAsync(offer is null ? null : Sdp.RejectAll(offer), offer is null ? null : Sdp.ContentType, cancellationToken);
        var response = await dialog.ByeAsync(cancellationToken);
        logger.LogInformation("Recovered call {CallSetupId}: {Party} answered the cancelled INVITE; BYE answered {Status}", call.CallSetupId, leg.Party, response.StatusCode);
    }
}
