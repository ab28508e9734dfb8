using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>
/// What a confirmed dialog needs to outlive the process that made it (RFC 3261 §12.2.1.1): our From and their To (with
/// the tags), the remote target, the route set, the CSeq of the INVITE that created it (for a late ACK) and the last local
/// CSeq used, and the domain whose credentials answer challenges. The next hop follows from the route set or the remote
/// target, as for any in-dialog request.
/// </summary>
public sealed record DialogSnapshot(
    string CallId,
    string LocalAddress,
    string RemoteAddress,
    string RemoteTarget,
    IReadOnlyList<string> RouteSet,
    long InviteCSeq,
    long LocalCSeq,
    string TargetDomain);

public sealed partial class SipDialog
{
    /// <summary>How far a restored dialog's CSeq jumps past the persisted one. The engine snapshots after each request it
    /// sends, but session refreshes (RFC 4028) go out without it: one per half interval, at least 45 s apart with the
    /// smallest Min-SE, so 100 000 covers some 52 days of refreshes. RFC 3261 §12.2.2 has the far end accept a CSeq more
    /// than one higher than the previous.</summary>
    public const long RestoredCSeqMargin = 100_000;

    private SipDialog(SipUserAgent ua, DialogSnapshot snapshot)
    {
        _ua = ua;
        TargetDomain = snapshot.TargetDomain;
        CallId = snapshot.CallId;
        LocalAddress = NameAddress.Parse(snapshot.LocalAddress);
        RemoteAddress = NameAddress.Parse(snapshot.RemoteAddress);
        LocalTag = LocalAddress.Tag ?? throw new ArgumentException("The local address has no tag.", nameof(snapshot));
        RemoteTag = RemoteAddress.Tag ?? "";
        _routeSet = snapshot.RouteSet.Select(NameAddress.Parse).ToList();
        RemoteTarget = SipUri.Parse(snapshot.RemoteTarget);
        State = DialogState.Confirmed;
        InitialInvite = NewRequest(SipMethods.Invite, snapshot.InviteCSeq);
        _localCSeq = snapshot.LocalCSeq + RestoredCSeqMargin;
    }

    /// <summary>The dialog's state as <see cref="Restore"/> needs it.</summary>
    public DialogSnapshot Snapshot()
    {
        lock (_gate)
            return new DialogSnapshot(CallId, LocalAddress.ToString(), RemoteAddress.ToString(), RemoteTarget.ToString(),
                [.. _routeSet.Select(r => r.ToString())], InitialInvite.CSeq.Number, _localCSeq, TargetDomain);
    }

    /// <summary>Rebuilds a confirmed dialog from <paramref name="snapshot"/> (taken by another process, e.g. before a crash)
    /// and registers it with <paramref name="ua"/>, so that requests in it are answered and it can be hung up.</summary>
    public static SipDialog Restore(SipUserAgent ua, DialogSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(ua);
        ArgumentNullException.ThrowIfNull(snapshot);
        var dialog = new SipDialog(ua, snapshot);
        ua.Register(dialog);
        return dialog;
    }
}
