using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.CallControl;

/// <summary>One phone of a call: the INVITE we sent it, the dialog its 2xx made, its ring timer, the leg on its own
/// node. Its SIP events are queued on the call.</summary>
internal sealed class Party(ThirdPartyCall call, PartyRole role, string submittedUri, SipUri uri, SipRoute route) : IInviteObserver, IDialogObserver
{
    private ITimer? _ringTimer;

    public PartyRole Role { get; } = role;

    /// <summary>The URI as the command gave it (published as from-uri/to-uri).</summary>
    public string SubmittedUri { get; } = submittedUri;

    public SipUri Uri { get; } = uri;

    public SipRoute Route { get; } = route;

    /// <summary><c>user@host</c>: the node the party's own legs are published on.</summary>
    public string Aor => Uri.AddressOfRecord;

    public OutgoingInvite? Invite { get; set; }

    public SipDialog? Dialog { get; set; }

    /// <summary>The offer the party made in its 2xx (RFC 3725 Flow I: we INVITE without SDP).</summary>
    public byte[]? Offer { get; set; }

    /// <summary>True once the 2xx of our INVITE was ACKed.</summary>
    public bool Acked { get; set; }

    public bool RingTimedOut { get; set; }

    /// <summary>The item id of the leg published on this party's own node (setup leg, callee leg, target leg).</summary>
    public string? OwnLegId { get; set; }

    /// <summary>For a transfer target: the party it is being connected to.</summary>
    public Party? Kept { get; set; }

    public void StartRingTimer(TimeProvider time, TimeSpan timeout) =>
        _ringTimer = time.CreateTimer(_ => call.Post(() => call.OnRingTimeoutAsync(this)), null, timeout, Timeout.InfiniteTimeSpan);

    public void StopRingTimer()
    {
        _ringTimer?.Dispose();
        _ringTimer = null;
    }

    public void OnProvisional(OutgoingInvite invite, SipResponse response) { }

    public void OnAnswered(OutgoingInvite invite, SipDialog dialog, SipResponse response)
    {
        dialog.Observer = this;
        call.Post(() => call.OnAnsweredAsync(this, dialog, response));
    }

    public void OnFailed(OutgoingInvite invite, SipResponse response) => call.Post(() => call.OnFailedAsync(this, response));

    public void OnByeReceived(SipDialog dialog) => call.Post(() => call.OnByeAsync(this, dialog));

    public Task<ReInviteAnswer> OnReInviteAsync(SipDialog dialog, byte[] offer)
    {
        var answer = new TaskCompletionSource<ReInviteAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        call.Post(async () =>
        {
            try
            {
                answer.TrySetResult(await call.RelayReInviteAsync(this, dialog, offer));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                answer.TrySetException(e);
            }
        });
        return answer.Task;
    }

    public void OnLost(SipDialog dialog, string reason) => call.Post(() => call.OnLostAsync(this, dialog, reason));

    public override string ToString() => $"{Role} {SubmittedUri}";
}
