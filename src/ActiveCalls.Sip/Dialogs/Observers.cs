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

    /// <summary>
    /// The far end sent a re-INVITE with an SDP offer (hold, resume, codec change). The request waits (after its
    /// 100 Trying) for the returned answer: a B2BUA passes the offer to the other party and returns its answer.
    /// </summary>
    Task<ReInviteAnswer> OnReInviteAsync(SipDialog dialog, byte[] offer);

    /// <summary>The dialog ended without a BYE from the far end (it never ACKed our 2xx; we sent a BYE).</summary>
    void OnLost(SipDialog dialog, string reason);
}

/// <summary>How to answer a re-INVITE: 200 with an SDP answer, 200 with the dialog's current SDP, or an error status.</summary>
public sealed record ReInviteAnswer(int Status, byte[]? Sdp)
{
    /// <summary>200 with the session description the dialog last sent (nothing changes on our side).</summary>
    public static ReInviteAnswer KeepCurrent { get; } = new(200, null);

    public static ReInviteAnswer Answer(byte[] sdp) => new(200, sdp);

    public static ReInviteAnswer Reject(int status) => new(status is >= 300 and <= 699 ? status : 500, null);
}
