using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.CallControl;

internal sealed partial class ThirdPartyCall
{
    private string? _connectionLegId;
    private string? _transferLegId;

    private SipUserAgent Ua => _engine.UserAgent;

    private bool IsLocal(Party p) => Options.IsLocalDomain(p.Uri.Host);

    // ---- create --------------------------------------------------------------------------------------------------

    /// <summary>INVITEs the caller without SDP and publishes the setup leg (<c>requested</c>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var from = new NameAddress(new SipUri("sip", Options.CallSetupUser, CallSetupDomain), Options.CallSetupDisplayName);
        A.Invite = Traced(await Ua.InviteAsync(new InviteParameters(A.Uri, from, new NameAddress(A.Uri.Clone()), null, null, A.Route), A, cancellationToken));
        _engine.Index(this, A.Invite);
        Checkpoint();
        A.StartRingTimer(_engine.Time, Options.RingTimeout);
        A.OwnLegId = NewItemId();
        await PublishAsync(new CallLeg(A.OwnLegId, A.Aor, LegState.Requested, A.Invite.CallId, from.Uri.ToString(), A.SubmittedUri,
            A.Invite.LocalTag, null, A.Invite.Branch, A.Aor, Setup.CallSetupId, from.DisplayName, null, _engine.Now));
    }

    public async Task OnAnsweredAsync(Party party, SipDialog dialog, SipResponse response)
    {
        party.Dialog = dialog;
        Checkpoint(); // the dialog is persisted before its ACK (or BYE) leaves
        party.StopRingTimer();
        if (Sdp.IsSdp(response.Body, response.ContentType)) party.Offer = response.Body;

        bool expected = (party.Role, State) is (PartyRole.Caller, CallState.CallingCaller) or (PartyRole.Callee, CallState.CallingCallee)
            || (party == T && State == CallState.Transferring);
        if (!expected || party.Invite!.CancelRequested)
        {
            Logger.LogInformation("{Call}: {Party} answered too late; hanging up", this, party);
            await HangUpAsync(party);
            return;
        }

        switch (party.Role)
        {
            case PartyRole.Caller:
                await CallerAnsweredAsync(dialog, response);
                break;
            case PartyRole.Callee:
                await CalleeAnsweredAsync(dialog, response);
                break;
            default:
                await TargetAnsweredAsync(party, dialog, response);
                break;
        }
    }

    private async Task CallerAnsweredAsync(SipDialog dialog, SipResponse response)
    {
        await UpdateAsync(A.OwnLegId, l => l with { State = LegState.Confirmed, ToTag = dialog.RemoteTag, ToDisplay = response.To.DisplayName });
        if (A.Offer is null)
        {
            await EndAsync(new LegEnd("caller answered without an SDP offer", 488));
            return;
        }

        State = CallState.CallingCallee;
        try
        {
            var from = new NameAddress(A.Uri.WithoutParametersAndHeaders());
            B.Invite = Traced(await Ua.InviteAsync(new InviteParameters(B.Uri, from, new NameAddress(B.Uri.Clone()), A.Offer, Sdp.ContentType, B.Route), B, _engine.Stopping));
        }
        catch (SipTransportException e)
        {
            Logger.LogWarning("{Call}: cannot reach the callee: {Error}", this, e.Message);
            await EndAsync(new LegEnd("callee unreachable", 503));
            return;
        }
        _engine.Index(this, B.Invite);
        Checkpoint();
        B.StartRingTimer(_engine.Time, Options.RingTimeout);

        _connectionLegId = NewItemId();
        await PublishAsync(new CallLeg(_connectionLegId, A.Aor, LegState.Created, B.Invite.CallId, A.SubmittedUri, B.SubmittedUri,
            B.Invite.LocalTag, null, null, null, Setup.CallSetupId, null, null, _engine.Now));
        if (IsLocal(B))
        {
            B.OwnLegId = NewItemId();
            await PublishAsync(new CallLeg(B.OwnLegId, B.Aor, LegState.Requested, B.Invite.CallId, A.SubmittedUri, B.SubmittedUri,
                B.Invite.LocalTag, null, B.Invite.Branch, B.Aor, Setup.CallSetupId, null, null, _engine.Now));
        }
    }

    private async Task CalleeAnsweredAsync(SipDialog dialog, SipResponse response)
    {
        await dialog.SendAckAsync(null, null, _engine.Stopping); // B's 2xx answered our offer
        B.Acked = true;
        if (!Sdp.IsSdp(response.Body, response.ContentType))
        {
            await EndAsync(new LegEnd("callee answered without SDP", 488));
            return;
        }
        await A.Dialog!.SendAckAsync(response.Body, Sdp.ContentType, _engine.Stopping); // RFC 3725 Flow I: the answer goes to A in its ACK
        A.Acked = true;
        State = CallState.Connected;
        Checkpoint();

        await UpdateAsync(_connectionLegId, l => l with { State = LegState.Confirmed, ToTag = dialog.RemoteTag, ToDisplay = response.To.DisplayName });
        await UpdateAsync(B.OwnLegId, l => l with { State = LegState.Confirmed, ToTag = dialog.RemoteTag, ToDisplay = response.To.DisplayName });
        await RetractAsync(A.OwnLegId, new LegEnd("connected"));
        A.OwnLegId = null;
        Logger.LogInformation("{Call}: connected", this);
    }

    public async Task OnFailedAsync(Party party, SipResponse response)
    {
        party.StopRingTimer();
        if (State == CallState.Ended) return;
        var end = EndFor(party, response);
        if (party == T)
        {
            Logger.LogInformation("{Call}: transfer target failed: {Reason}", this, end.Reason);
            await AbandonTransferAsync(end);
            return;
        }
        Logger.LogInformation("{Call}: {Party} failed: {Status} ({Reason})", this, party, response.StatusCode, end.Reason);
        await EndAsync(end);
    }

    public Task OnRingTimeoutAsync(Party party)
    {
        if (party.Invite is null || party.Invite.IsFinished || State == CallState.Ended) return Task.CompletedTask;
        Logger.LogInformation("{Call}: {Party} did not answer in {Timeout}; cancelling", this, party, Options.RingTimeout);
        party.RingTimedOut = true;
        party.Invite.Cancel(); // the 487 (or Timer B's 408 when nothing ever answered) ends the call
        return Task.CompletedTask;
    }

    public async Task OnByeAsync(Party party, SipDialog dialog)
    {
        if (State == CallState.Ended || dialog != party.Dialog) return;
        if (party == T)
        {
            await AbandonTransferAsync(new LegEnd("transfer target hung up"));
            return;
        }
        if (!IsCurrent(party)) return;
        await EndAsync(new LegEnd(party == A && party.Role == PartyRole.Caller ? "caller hung up" : "hung up"));
    }

    public async Task OnLostAsync(Party party, SipDialog dialog, string reason)
    {
        if (State == CallState.Ended || dialog != party.Dialog || !IsCurrent(party)) return;
        await EndAsync(new LegEnd(reason));
    }

    private bool IsCurrent(Party p) => p == A || p == B || p == T;

    /// <summary>
    /// A connected phone re-INVITEd (hold, resume, new codec): pass its offer to the other phone in a re-INVITE and
    /// return that phone's answer, so the change reaches both ends. Outside a plain connection (still ringing, mid
    /// transfer) the phone is answered with the session it already has. A refusal or glare (491) from the other
    /// phone is returned as is, leaving both sessions unchanged.
    /// </summary>
    public async Task<ReInviteAnswer> RelayReInviteAsync(Party party, SipDialog dialog, byte[] offer)
    {
        if (State != CallState.Connected || dialog != party.Dialog || (party != A && party != B)) return ReInviteAnswer.KeepCurrent;
        var other = party == A ? B : A;
        if (other.Dialog is not { State: DialogState.Confirmed } otherDialog) return ReInviteAnswer.KeepCurrent;
        Logger.LogInformation("{Call}: relaying a re-INVITE from {Party} to {Other}", this, party, other);
        var final = await otherDialog.ReInviteAsync(offer, Sdp.ContentType, _engine.Stopping);
        Checkpoint(); // CSeq and remote targets moved
        if (final.IsSuccess)
            return Sdp.IsSdp(final.Body, final.ContentType) ? ReInviteAnswer.Answer(final.Body) : ReInviteAnswer.KeepCurrent;
        return ReInviteAnswer.Reject(final.IsLocal && final.StatusCode == 408 ? 408 : final.StatusCode);
    }

    // ---- commands ------------------------------------------------------------------------------------------------

    public async Task TerminateAsync(DialogId id)
    {
        var party = PartyFor(id.CallId, id.FromTag);
        if (State == CallState.Ended || party?.Dialog is not { } dialog || dialog.RemoteTag != id.ToTag || dialog.State == DialogState.Terminated)
            throw new CallControlException("terminate call failed: no such call");
        await EndAsync(new LegEnd("terminated"));
    }

    public async Task CancelAsync(string callId, string fromTag)
    {
        var party = PartyFor(callId, fromTag);
        if (State == CallState.Ended || party?.Invite is not { } invite || invite.IsFinished || invite.CancelRequested)
            throw new CallControlException("cancel call failed: no such unanswered call");
        if (party == T)
        {
            invite.Cancel(); // the 487 abandons the transfer
            return;
        }
        await EndAsync(new LegEnd("cancelled"));
    }

    public async Task TransferAsync(DialogId id, TransferEndpoint endpoint, string targetText, SipUri target, SipRoute route)
    {
        var party = PartyFor(id.CallId, id.FromTag);
        if (State != CallState.Connected || party?.Dialog is not { } dialog || dialog.RemoteTag != id.ToTag || !IsCurrent(party))
            throw new CallControlException("transfer call failed: no such connected call");

        var kept = endpoint == TransferEndpoint.Caller ? A : B;
        var t = new Party(this, PartyRole.Target, targetText, target, route) { Kept = kept };
        try
        {
            var from = new NameAddress(kept.Uri.WithoutParametersAndHeaders());
            t.Invite = Traced(await Ua.InviteAsync(new InviteParameters(target, from, new NameAddress(target.Clone()), null, null, route), t, _engine.Stopping));
        }
        catch (SipTransportException e)
        {
            throw new CallControlException($"transfer call failed: cannot reach {targetText} ({e.Message})");
        }
        T = t;
        State = CallState.Transferring;
        _engine.Index(this, t.Invite);
        Checkpoint();
        t.StartRingTimer(_engine.Time, Options.RingTimeout);

        _transferLegId = NewItemId();
        await PublishAsync(new CallLeg(_transferLegId, kept.Aor, LegState.Created, t.Invite.CallId, kept.SubmittedUri, targetText,
            t.Invite.LocalTag, null, null, null, Setup.CallSetupId, null, null, _engine.Now));
        if (IsLocal(t))
        {
            t.OwnLegId = NewItemId();
            await PublishAsync(new CallLeg(t.OwnLegId, t.Aor, LegState.Requested, t.Invite.CallId, kept.SubmittedUri, targetText,
                t.Invite.LocalTag, null, t.Invite.Branch, t.Aor, Setup.CallSetupId, null, null, _engine.Now));
        }
    }

    /// <summary>
    /// The target answered with its offer: re-INVITE the kept party with it, pass the kept party's answer to the
    /// target in its ACK, then hang up the other party (RFC 3725 §4.x, a re-run of Flow I toward the kept dialog).
    /// </summary>
    private async Task TargetAnsweredAsync(Party t, SipDialog dialog, SipResponse response)
    {
        var kept = t.Kept!;
        var other = kept == A ? B : A;
        if (t.Offer is null)
        {
            await HangUpAsync(t);
            await AbandonTransferAsync(new LegEnd("transfer target answered without an SDP offer", 488));
            return;
        }
        var reInvite = await kept.Dialog!.ReInviteAsync(t.Offer, Sdp.ContentType, _engine.Stopping);
        if (!reInvite.IsSuccess || !Sdp.IsSdp(reInvite.Body, reInvite.ContentType))
        {
            Logger.LogInformation("{Call}: re-INVITE of {Kept} for the transfer failed: {Status}", this, kept, reInvite.StatusCode);
            await HangUpAsync(t);
            await AbandonTransferAsync(new LegEnd("kept party refused the new session", reInvite.StatusCode));
            return;
        }
        await dialog.SendAckAsync(reInvite.Body, Sdp.ContentType, _engine.Stopping);
        t.Acked = true;

        other.Dialog!.Observer = null;
        _ = LogByeAsync(other.Dialog);
        var transferred = new LegEnd("transferred");
        await RetractAsync(other.OwnLegId, transferred);
        await RetractAsync(_connectionLegId, transferred);
        await RetractAsync(kept.OwnLegId, transferred);
        kept.OwnLegId = null;

        _connectionLegId = _transferLegId;
        _transferLegId = null;
        await UpdateAsync(_connectionLegId, l => l with { State = LegState.Confirmed, ToTag = dialog.RemoteTag, ToDisplay = response.To.DisplayName });
        await UpdateAsync(t.OwnLegId, l => l with { State = LegState.Confirmed, ToTag = dialog.RemoteTag, ToDisplay = response.To.DisplayName });

        A = kept;
        B = t;
        T = null;
        State = CallState.Connected;
        Checkpoint();
        Logger.LogInformation("{Call}: transferred; {Kept} is now connected to {Target}", this, kept, t);
    }

    private async Task AbandonTransferAsync(LegEnd end)
    {
        if (T is null) return;
        T.StopRingTimer();
        if (T.Invite is { IsFinished: false } pending) pending.Cancel();
        await RetractAsync(_transferLegId, end);
        await RetractAsync(T.OwnLegId, end);
        _transferLegId = null;
        T = null;
        if (State == CallState.Transferring) State = CallState.Connected;
        Checkpoint();
    }

    // ---- ending --------------------------------------------------------------------------------------------------

    /// <summary>Ends the call: cancels what still rings, hangs up what answered, retracts every leg.</summary>
    public async Task EndAsync(LegEnd end)
    {
        if (State == CallState.Ended) return;
        State = CallState.Ended;
        foreach (var party in Parties().ToList())
        {
            party.StopRingTimer();
            if (party.Invite is { IsFinished: false } pending) pending.Cancel();
            else await HangUpAsync(party);
        }
        ForgetInJournal(); // the BYEs and CANCELs have left
        foreach (var party in Parties())
            if (party.Invite is { } invite) Ua.Transactions.Traces.Forget(invite.CallId);
        foreach (var id in _legs.Keys.ToList()) await RetractAsync(id, end);
        _engine.Remove(this);
        Logger.LogInformation("{Call}: ended ({Reason})", this, end.Reason);
    }

    /// <summary>ACKs a 2xx not ACKed yet (declining its offer) and sends BYE.</summary>
    private async Task HangUpAsync(Party party)
    {
        if (party.Dialog is not { } dialog || dialog.State == DialogState.Terminated) return;
        if (!party.Acked)
        {
            party.Acked = true;
            var decline = party.Offer is null ? null : Sdp.RejectAll(party.Offer);
            await dialog.SendAckAsync(decline, decline is null ? null : Sdp.ContentType, _engine.Stopping);
        }
        dialog.Observer = null;
        _ = LogByeAsync(dialog);
    }

    private async Task LogByeAsync(SipDialog dialog)
    {
        try
        {
            var response = await dialog.ByeAsync(_engine.Stopping);
            if (!response.IsSuccess) Logger.LogInformation("{Call}: BYE on {Dialog} answered {Status}", this, dialog, response.StatusCode);
        }
        catch (Exception e) when (e is OperationCanceledException or SipTransportException)
        {
            Logger.LogDebug("{Call}: BYE on {Dialog} abandoned: {Error}", this, dialog, e.Message);
        }
    }

    private static LegEnd EndFor(Party party, SipResponse response)
    {
        int status = response.StatusCode;
        string reason = status switch
        {
            486 or 600 => "busy",
            603 => "declined",
            487 when party.RingTimedOut => "no answer",
            487 => "cancelled",
            408 when party.RingTimedOut => "no answer",
            408 when response.IsLocal => "no response",
            480 => "unavailable",
            404 or 604 => "not found",
            503 when response.IsLocal => "unreachable",
            401 or 407 => "authentication failed",
            _ => "failed",
        };
        return new LegEnd($"{reason} ({status} {response.ReasonPhrase})".Replace(" )", ")", StringComparison.Ordinal), status);
    }
}
