using ActiveCalls.Sip.Dialogs;

namespace ActiveCalls.Sip.CallControl;

/// <summary>
/// Where the engine writes what it would need to end its calls after a crash. <see cref="Save"/> replaces the call's
/// record and is called before each SIP message that depends on it leaves (a dialog's 2xx is saved before its ACK); the
/// record is removed once the call has ended. Called on the call's queue; must not throw for a failed write (log it).
/// </summary>
public interface ICallJournal
{
    void Save(CallRecord call);

    void Remove(string callId);
}

/// <summary>A call's SIP state: one entry per party with a dialog up or an INVITE still pending.</summary>
/// <param name="Id">The engine's id of the call (not a SIP Call-ID).</param>
public sealed record CallRecord(string Id, string CallSetupId, IReadOnlyList<LegRecord> Legs);

/// <summary>One party: its confirmed dialog (with whether its 2xx was ACKed, and the offer that 2xx carried, to decline
/// it in a late ACK), or its pending INVITE as sent and where it went (for a CANCEL).</summary>
public sealed record LegRecord(string Party, DialogSnapshot? Dialog, bool Acked, byte[]? Offer, string? PendingInvite, string? PendingDestination);
