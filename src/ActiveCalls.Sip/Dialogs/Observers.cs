using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>
/// What happens to an INVITE we sent. Called on the stack's receive loop or a timer thread, in the order the events
/// happened for that INVITE; implementations must not block (post to a queue).
/// </summary>
public interface IInviteObserver
{
    /// <summary>A 1xx arrived (100 Trying included).</summary>
    void OnProvisional(OutgoingInvite invite, SipResponse response);

    /// <summary>The first 2xx arrived and <paramref name="dialog"/> is confirmed. It is not ACKed yet: the observer
    /// must call <see cref="SipDialog.SendAckAsync"/> (with the answer when the 2xx carried an offer).</summary>
    void OnAnswered(OutgoingInvite invite, SipDialog dialog, SipResponse response);

    /// <summary>The INVITE failed for good: a final 3xx–6xx (after any authentication retry), or a local 408
    /// (no response) or 503 (transport error), see <see cref="SipResponse.IsLocal"/>.</summary>
    void OnFailed(OutgoingInvite invite, SipResponse response);
}

/// <summary>What the far end does to a confirmed dialog. Same threading rules as <see cref="IInviteObserver"/>.</summary>
public interface IDialogObserver
{
    /// <summary>The far end hung up; the BYE was answered 200 and the dialog is terminated.</summary>
    void OnByeReceived(SipDialog dialog);

    /// <summary>The far end sent a re-INVITE; it was answered 200 with the dialog's current local SDP.</summary>
    void OnReInvited(SipDialog dialog, byte[] offer);

    /// <summary>The dialog ended without a BYE from the far end (it never ACKed our 2xx; we sent a BYE).</summary>
    void OnLost(SipDialog dialog, string reason);
}
