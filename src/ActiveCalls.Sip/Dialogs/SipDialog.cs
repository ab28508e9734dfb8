using System.Globalization;
using System.Net;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transactions;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.Dialogs;

public enum DialogState { Early, Confirmed, Terminated }

/// <summary>
/// A dialog this UA created as UAC (RFC 3261 §12): identified by Call-ID, local tag and remote tag, with the route set
/// from the 2xx's Record-Route (reversed), the remote target from its Contact, and our CSeq space. It sends ACK,
/// BYE and re-INVITEs, answers the far end's BYE, OPTIONS, INFO and re-INVITE (200 with our current SDP, or 491 on
/// glare), and retransmits a 2xx to a re-INVITE until the ACK (§13.3.1.4).
/// </summary>
public sealed partial class SipDialog
{
    private readonly SipUserAgent _ua;
    private readonly object _gate = new();
    private readonly List<NameAddress> _routeSet;
    private long _localCSeq;
    private long? _remoteCSeq;
    private SipRequest? _ack;
    private bool _outgoingInvitePending;
    private Pending2xx? _pending2xx;
    private bool _peerAllowsUpdate;

    /// <summary>RFC 4028 session timer; null when the initial INVITE did not offer one (timers disabled).</summary>
    private readonly SessionTimer? _session;

    /// <summary>Refreshes retried after 491 (RFC 3261 §14.1) or 422 before the refresh counts as failed.</summary>
    private const int MaxRefreshRetries = 3;

    internal SipDialog(SipUserAgent ua, SipRequest invite, SipResponse response, string targetDomain)
    {
        _ua = ua;
        InitialInvite = invite;
        TargetDomain = targetDomain;
        CallId = invite.CallId;
        LocalAddress = invite.From;
        RemoteAddress = response.To;
        LocalTag = LocalAddress.Tag ?? throw new ArgumentException("The INVITE has no From tag.", nameof(invite));
        RemoteTag = RemoteAddress.Tag ?? "";
        _routeSet = response.RecordRoutes.Reverse().ToList();
        RemoteTarget = response.Contacts is { Count: > 0 } contacts ? contacts[0].Uri : invite.RequestUri;
        _localCSeq = invite.CSeq.Number;
        State = response.IsSuccess ? DialogState.Confirmed : DialogState.Early;
        if (Sdp.IsSdp(response.Body, response.ContentType)) RemoteSdp = response.Body;
        if (Sdp.IsSdp(invite.Body, invite.ContentType))
        {
            LocalSdp = invite.Body;
        }
        _peerAllowsUpdate = AllowsUpdate(response);
        if (ua.Options.SessionTimers.Enabled && SessionExpiresValue.From(invite) is { } asked)
        {
            _session = new SessionTimer(ua, OnSessionTimerAsync);
            var (interval, weRefresh) = Negotiated(response, asked.Seconds);
            _session.Set(interval, weRefresh); // the clock starts with the ACK (see SendAckAsync)
        }
    }

    public string CallId { get; }

    public string LocalTag { get; }

    public string RemoteTag { get; }

    /// <summary>Our From (with our tag).</summary>
    public NameAddress LocalAddress { get; }

    /// <summary>Their To (with their tag).</summary>
    public NameAddress RemoteAddress { get; }

    public SipUri RemoteTarget { get; private set; }

    public IReadOnlyList<NameAddress> RouteSet => _routeSet;

    public DialogState State { get; private set; }

    /// <summary>The session description we last gave the far end (offer or answer); what a re-INVITE is answered with.</summary>
    public byte[]? LocalSdp { get; private set; }

    /// <summary>The session description the far end last gave us.</summary>
    public byte[]? RemoteSdp { get; private set; }

    public IDialogObserver? Observer { get; set; }

    /// <summary>The INVITE that created the dialog (its CSeq and credentials go in the ACK).</summary>
    internal SipRequest InitialInvite { get; }

    /// <summary>The domain whose credentials answer challenges on this dialog.</summary>
    internal string TargetDomain { get; }

    internal string Key => SipUserAgent.DialogKey(CallId, LocalTag, RemoteTag);

    public override string ToString() => $"dialog {CallId} local={LocalTag} remote={RemoteTag} ({State})";

    /// <summary>ACKs the 2xx of the initial INVITE (RFC 3261 §13.2.2.4), with <paramref name="body"/> when that 2xx
    /// carried an offer. Retransmitted 2xx are ACKed again with the same ACK.</summary>
    public async Task SendAckAsync(byte[]? body, string? contentType, CancellationToken cancellationToken = default)
    {
        var ack = NewRequest(SipMethods.Ack, InitialInvite.CSeq.Number);
        foreach (var name in new[] { "Authorization", "Proxy-Authorization" })
            foreach (var value in InitialInvite.Headers.GetFields(name)) ack.Headers.Add(name, value);
        ack.SetBody(body, contentType);
        lock (_gate)
        {
            _ack = ack;
            if (Sdp.IsSdp(body, contentType)) LocalSdp = body;
        }
        var destination = await NextHopAsync(ack, cancellationToken);
        _ua.Transactions.SendStateless(ack, destination);
        // The session timer starts here rather than at the 2xx: before the ACK (RFC 3725 Flow I holds A's 2xx while B
        // rings) no re-INVITE may be sent. RingTimeout (30 s) < interval/2 keeps the far end's clock, started at its
        // 2xx, from expiring first.
        if (_session is { IsRunning: false }) _session.Arm();
    }

    /// <summary>Hangs up: the dialog is terminated at once and a BYE sent (answering one challenge). Returns the BYE's
    /// final response (a local 408/503 when there was none).</summary>
    public async Task<SipResponse> ByeAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (State == DialogState.Terminated) return SipResponseFactory.Local(InitialInvite, 481, "Dialog already terminated");
            State = DialogState.Terminated;
            StopPending2xx();
        }
        _session?.Stop();
        _ua.Forget(this);
        try
        {
            return await _ua.SendInDialogAsync(this, SipMethods.Bye, null, null, cancellationToken);
        }
        catch (Transport.SipTransportException e)
        {
            _ua.Logger.LogWarning("BYE on {Dialog} not sent: {Error}", this, e.Message);
            return SipResponseFactory.Local(InitialInvite, 503, "Service Unavailable (transport error)");
        }
    }

    /// <summary>
    /// Sends a re-INVITE offering <paramref name="offer"/>; its 2xx is ACKed here and the answer kept in
    /// <see cref="RemoteSdp"/>. Returns the final response (491 on glare, which the caller may retry).
    /// </summary>
    public async Task<SipResponse> ReInviteAsync(byte[] offer, string contentType, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (State != DialogState.Confirmed) throw new InvalidOperationException($"{this} is not confirmed.");
            if (_outgoingInvitePending || _pending2xx is not null)
                return SipResponseFactory.Local(InitialInvite, 491, "Request Pending");
            _outgoingInvitePending = true;
        }
        try
        {
            var final = await _ua.SendInDialogAsync(this, SipMethods.Invite, offer, contentType, cancellationToken);
            if (final.IsSuccess)
            {
                lock (_gate)
                {
                    LocalSdp = offer;
                    if (Sdp.IsSdp(final.Body, final.ContentType)) RemoteSdp = final.Body;
                    if (final.Contacts is { Count: > 0 } contacts) RemoteTarget = contacts[0].Uri;
                }
                OnRefreshAnswered(final); // every re-INVITE is a session refresh (RFC 4028 §7.4)
                var ack = NewRequest(SipMethods.Ack, final.CSeq.Number);
                lock (_gate) _ack = ack;
                _ua.Transactions.SendStateless(ack, await NextHopAsync(ack, cancellationToken));
            }
            return final;
        }
        finally
        {
            lock (_gate) _outgoingInvitePending = false;
        }
    }

    /// <summary>Builds an in-dialog request (RFC 3261 §12.2.1.1): Request-URI and Route from the remote target and
    /// route set (loose or strict routing), our From, their To, a new branch. ACK/CANCEL pass their CSeq.</summary>
    internal SipRequest NewRequest(string method, long? cseq = null)
    {
        long number;
        lock (_gate)
        {
            number = cseq ?? ++_localCSeq;
        }
        SipUri requestUri;
        var routes = new List<string>();
        if (_routeSet.Count == 0 || _routeSet[0].Uri.IsLooseRouter)
        {
            requestUri = RemoteTarget.Clone();
            routes.AddRange(_routeSet.Select(r => r.ToString()));
        }
        else
        {
            requestUri = _routeSet[0].Uri.Clone();
            routes.AddRange(_routeSet[1..].Select(r => r.ToString()));
            routes.Add(new NameAddress(RemoteTarget).ToString());
        }
        requestUri.Headers.Clear();
        var request = new SipRequest(method, requestUri);
        request.Headers.Add("Via", _ua.NewVia());
        request.Headers.Add("Max-Forwards", "70");
        foreach (var r in routes) request.Headers.Add("Route", r);
        request.Headers.Add("From", LocalAddress.ToString());
        request.Headers.Add("To", RemoteAddress.ToString());
        request.Headers.Add("Call-ID", CallId);
        request.Headers.Add("CSeq", new CSeqHeader(number, method).ToString());
        if (method == SipMethods.Invite) request.Headers.Add("Contact", _ua.ContactHeader);
        if (method != SipMethods.Ack) request.Headers.Add("User-Agent", _ua.Options.UserAgent);
        if (_session is not null && method is SipMethods.Invite or SipMethods.Update)
        {
            // RFC 4028 §7.4: a refresh (or any re-INVITE/UPDATE) repeats the interval and who refreshes.
            SessionTimerHeaders.Add(request, _session.Interval, _session.WeRefresh ? "uac" : "uas", _ua.Options.SessionTimers.MinSESeconds);
        }
        return request;
    }

    /// <summary>The address a request of this dialog goes to: its first Route, else its Request-URI.</summary>
    internal Task<IPEndPoint> NextHopAsync(SipRequest request, CancellationToken cancellationToken) =>
        SipUserAgent.NextHopAsync(request, cancellationToken);

    internal long NextCSeq()
    {
        lock (_gate) return ++_localCSeq;
    }

    /// <summary>A request from the far end inside this dialog.</summary>
    internal void OnRequest(ServerTransaction tx)
    {
        var request = tx.Request;
        var cseq = request.CSeq.Number;
        lock (_gate)
        {
            if (_remoteCSeq is long last && cseq <= last && request.Method != SipMethods.Ack)
            {
                tx.SendResponse(request.CreateResponse(500, "Out of order CSeq"));
                return;
            }
            _remoteCSeq = cseq;
        }

        switch (request.Method)
        {
            case SipMethods.Bye:
                bool wasLive;
                lock (_gate)
                {
                    wasLive = State != DialogState.Terminated;
                    State = DialogState.Terminated;
                    StopPending2xx();
                }
                _session?.Stop();
                tx.SendResponse(request.CreateResponse(200));
                _ua.Forget(this);
                if (wasLive) Observer?.OnByeReceived(this);
                break;

            case SipMethods.Invite:
            case SipMethods.Update:
                OnReInvite(tx);
                break;

            case SipMethods.Options:
            case SipMethods.Info:
                tx.SendResponse(_ua.WithAllow(request.CreateResponse(200)));
                break;

            default:
                tx.SendResponse(_ua.WithAllow(request.CreateResponse(405)));
                break;
        }
    }

    /// <summary>A re-INVITE or an UPDATE from the far end: a session refresh (RFC 4028: same SDP or none), or a new
    /// offer for the observer to answer. A refresh is answered by the stack itself with the current session.</summary>
    private void OnReInvite(ServerTransaction tx)
    {
        var request = tx.Request;
        bool isUpdate = request.Method == SipMethods.Update;
        bool hasSdp = Sdp.IsSdp(request.Body, request.ContentType);
        byte[]? offer = null;
        bool takesOfferSlot;
        IDialogObserver? observer;
        lock (_gate)
        {
            if (State != DialogState.Confirmed)
            {
                tx.SendResponse(request.CreateResponse(481));
                return;
            }
            if (TooSmall(request) is { } tooSmall)
            {
                tx.SendResponse(tooSmall);
                return;
            }
            bool newOffer = hasSdp && !Sdp.IsUnchanged(request.Body, RemoteSdp);
            // An offerless UPDATE, or one repeating the session, is a pure refresh and starts no offer/answer exchange.
            takesOfferSlot = !isUpdate || newOffer;
            if (takesOfferSlot && _outgoingInvitePending)
            {
                tx.SendResponse(request.CreateResponse(491)); // glare (RFC 3261 §14.2, RFC 3311 §5.2)
                return;
            }
            if (takesOfferSlot && (_pending2xx is not null || _incomingInvitePending))
            {
                var busy = request.CreateResponse(500, "Previous re-INVITE not finished");
                busy.Headers.Add("Retry-After", Random.Shared.Next(0, 10).ToString(CultureInfo.InvariantCulture));
                tx.SendResponse(busy);
                return;
            }
            if (request.Contacts is { Count: > 0 } contacts) RemoteTarget = contacts[0].Uri;
            if (request.Headers.Contains("Allow")) _peerAllowsUpdate = AllowsUpdate(request);
            if (hasSdp)
            {
                RemoteSdp = request.Body;
                if (newOffer) offer = request.Body;
            }
            observer = Observer;
            if (takesOfferSlot) _incomingInvitePending = true;
        }
        _ = AnswerReInviteAsync(tx, offer, observer, takesOfferSlot);
    }

    private bool _incomingInvitePending;

    /// <summary>Answers a re-INVITE or UPDATE: with what the observer says for a new offer, else with our current SDP
    /// (an offerless re-INVITE gets our SDP as the offer, its answer comes in the ACK; an offerless UPDATE gets no
    /// body). A 2xx carries the session timer's Session-Expires and restarts it.</summary>
    private async Task AnswerReInviteAsync(ServerTransaction tx, byte[]? offer, IDialogObserver? observer, bool tookOfferSlot)
    {
        var request = tx.Request;
        bool isUpdate = request.Method == SipMethods.Update;
        var decision = ReInviteAnswer.KeepCurrent;
        if (offer is not null && observer is not null)
        {
            try
            {
                decision = await observer.OnReInviteAsync(this, offer);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _ua.Logger.LogWarning(e, "{Dialog}: answering a re-INVITE failed", this);
                decision = ReInviteAnswer.Reject(500);
            }
        }

        SipResponse response;
        Pending2xx? pending = null;
        (int Interval, bool WeRefresh)? refreshed = null;
        lock (_gate)
        {
            if (tookOfferSlot) _incomingInvitePending = false;
            if (State != DialogState.Confirmed)
            {
                response = request.CreateResponse(isUpdate ? 481 : 487);
            }
            else if (decision.Status >= 300)
            {
                response = request.CreateResponse(decision.Status);
            }
            else
            {
                if (decision.Sdp is { Length: > 0 } answer) LocalSdp = answer;
                response = _ua.WithAllow(request.CreateResponse(200));
                response.Headers.Add("Contact", _ua.ContactHeader);
                bool withSdp = !isUpdate || Sdp.IsSdp(request.Body, request.ContentType);
                if (withSdp && LocalSdp is { Length: > 0 } sdp) response.SetBody(sdp, Sdp.ContentType);
                refreshed = AnswerRefresh(request, response);
                if (!isUpdate)
                {
                    pending = new Pending2xx(this, response, tx.Remote, request.CSeq.Number);
                    _pending2xx = pending;
                }
            }
        }
        tx.SendResponse(response);
        if (refreshed is { } r) _session!.Arm(r.Interval, r.WeRefresh);
        pending?.Start();
    }

    /// <summary>An ACK for one of our 2xx (to a re-INVITE).</summary>
    internal void OnAck(SipRequest ack)
    {
        lock (_gate)
        {
            if (_pending2xx is { } p && p.CSeq == ack.CSeq.Number)
            {
                StopPending2xx();
                if (Sdp.IsSdp(ack.Body, ack.ContentType)) RemoteSdp = ack.Body; // the answer to an offer in our 200
            }
        }
    }

    /// <summary>A 2xx the INVITE transaction no longer absorbs: ACK it again if we did already.</summary>
    internal async Task OnRetransmitted2xxAsync(SipResponse response)
    {
        SipRequest? ack;
        lock (_gate) ack = _ack is not null && _ack.CSeq.Number == response.CSeq.Number ? _ack : null;
        if (ack is null) return; // not ACKed yet (RFC 3725 Flow I waits for the other party's answer)
        try
        {
            _ua.Transactions.SendStateless(ack, await NextHopAsync(ack, CancellationToken.None));
        }
        catch (Transport.SipTransportException e)
        {
            _ua.Logger.LogDebug("Re-ACK on {Dialog} failed: {Error}", this, e.Message);
        }
    }

    // ---- RFC 4028 session timer ------------------------------------------------------------------------------------

    private int MinSE => _ua.Options.SessionTimers.MinSESeconds;

    /// <summary>True while the session timer is scheduled (for tests: an ended dialog has none).</summary>
    internal bool SessionTimerRunning => _session?.IsRunning ?? false;

    /// <summary>The negotiated session interval in seconds (null without session timers).</summary>
    public int? SessionInterval => _session?.Interval;

    /// <summary>True when we send the refreshes, false when the far end does (null without session timers).</summary>
    public bool? WeRefresh => _session?.WeRefresh;

    private static bool AllowsUpdate(SipMessage message) =>
        message.Headers.GetValues("Allow").Any(m => m.Trim().Equals(SipMethods.Update, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The interval and refresher a 2xx to our INVITE, re-INVITE or UPDATE settles (RFC 4028 §7.2). With a
    /// Session-Expires, its value (a UAS may lower what we asked for, never below our Min-SE: a lower value is raised
    /// to it) and its refresher: <c>uac</c> is us, the UAC of that transaction. Without one, the UAS does not do
    /// session timers; RFC 4028 §7.2 lets the UAC that asked for them run them alone, as if the 2xx had echoed its
    /// request with <c>refresher=uac</c> — we do: our refreshes are what notices a phone gone away.
    /// </summary>
    private (int Interval, bool WeRefresh) Negotiated(SipResponse response, int asked) =>
        SessionExpiresValue.From(response) is { } answered
            ? (Math.Max(answered.Seconds, MinSE), answered.Refresher != "uas")
            : (asked, true);

    /// <summary>A 2xx to a refresh (or any re-INVITE/UPDATE of ours): restart the clock with what it says.</summary>
    private void OnRefreshAnswered(SipResponse final)
    {
        if (_session is null) return;
        var (interval, weRefresh) = Negotiated(final, _session.Interval);
        _session.Arm(interval, weRefresh);
    }

    /// <summary>422 with our Min-SE for a refresh from the far end asking for less (RFC 4028 §8.1).</summary>
    private SipResponse? TooSmall(SipRequest request)
    {
        if (_session is null || SessionExpiresValue.From(request) is not { } asked || asked.Seconds >= MinSE) return null;
        var response = request.CreateResponse(422, "Session Interval Too Small");
        response.Headers.Add(SessionExpiresValue.MinSEHeader, MinSE.ToString(CultureInfo.InvariantCulture));
        return response;
    }

    /// <summary>
    /// The far end refreshed (RFC 4028 §9, we are the UAS of this re-INVITE/UPDATE): echo its Session-Expires in our
    /// 2xx. Its <c>refresher=uac</c> means the far end keeps refreshing (and our 2xx then says <c>Require: timer</c>),
    /// <c>uas</c> means us; without a refresher we pick the far end when it supports timers, else us. A request with
    /// no Session-Expires at all leaves us as the refresher with the current interval (named in the 2xx only if the
    /// far end said <c>Supported: timer</c>). Returns what to arm once the 2xx is sent.
    /// </summary>
    private (int Interval, bool WeRefresh)? AnswerRefresh(SipRequest request, SipResponse response)
    {
        if (_session is null) return null;
        var asked = SessionExpiresValue.From(request);
        bool supported = SessionExpiresValue.Lists(request, "Supported") || SessionExpiresValue.Lists(request, "Require");
        bool peerRefreshes = asked?.Refresher switch { "uac" => true, "uas" => false, _ => asked is not null && supported };
        int interval = asked?.Seconds ?? _session.Interval;
        if (asked is not null || supported)
        {
            response.Headers.Add(SessionExpiresValue.HeaderName, new SessionExpiresValue(interval, peerRefreshes ? "uac" : "uas").ToString());
            if (peerRefreshes) response.Headers.Add("Require", SessionExpiresValue.OptionTag);
            response.Headers.Add("Supported", SessionExpiresValue.OptionTag);
        }
        return (interval, !peerRefreshes);
    }

    /// <summary>
    /// The session timer fired. As the refresher: refresh, by UPDATE without a body when the far end's Allow lists
    /// UPDATE (no offer/answer, so nothing can change), else by re-INVITE with our current SDP, unchanged (version
    /// included). A 2xx restarts the clock; 491 is retried after 2.1–4 s (RFC 3261 §14.1: we own the Call-ID), 422
    /// with its larger Min-SE; anything else — no response, 408, 481, any other final status — ends the dialog with
    /// BYE (RFC 4028 §10). Not the refresher: the far end's refresh is overdue, BYE.
    /// </summary>
    private async Task OnSessionTimerAsync(bool weRefresh, CancellationToken cancellationToken)
    {
        var session = _session!;
        if (!weRefresh)
        {
            await EndWithByeAsync($"session expired (no refresh within {session.Interval} s)");
            return;
        }
        SipResponse final;
        try
        {
            byte[]? sdp;
            bool update;
            lock (_gate)
            {
                if (State != DialogState.Confirmed) return;
                sdp = LocalSdp;
                update = _peerAllowsUpdate || sdp is null;
            }
            _ua.Logger.LogDebug("{Dialog}: session refresh by {Method}", this, update ? "UPDATE" : "re-INVITE");
            if (update)
            {
                final = await _ua.SendInDialogAsync(this, SipMethods.Update, null, null, cancellationToken);
                if (final.IsSuccess) OnRefreshAnswered(final);
            }
            else
            {
                final = await ReInviteAsync(sdp!, Sdp.ContentType, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return; // the dialog ended meanwhile
        }
        catch (InvalidOperationException)
        {
            return; // no longer confirmed
        }
        catch (Transport.SipTransportException e)
        {
            final = SipResponseFactory.Local(InitialInvite, 503, "Service Unavailable (" + e.Message + ")");
        }
        if (final.IsSuccess) return;
        if (final.StatusCode == 491 && session.Retries++ < MaxRefreshRetries)
        {
            session.RetryIn(TimeSpan.FromMilliseconds(Random.Shared.Next(2100, 4001)));
            return;
        }
        if (final.StatusCode == 422 && SessionExpiresValue.MinSE(final) is int larger && larger > session.Interval && session.Retries++ < MaxRefreshRetries)
        {
            session.Set(larger, weRefresh: true);
            session.RetryIn(TimeSpan.Zero);
            return;
        }
        await EndWithByeAsync($"session refresh failed ({final.StatusCode} {final.ReasonPhrase})");
    }

    /// <summary>Ends the dialog from our side for <paramref name="reason"/>: BYE, and the observer told (as for a BYE
    /// from the far end, a B2BUA then hangs up its other leg).</summary>
    internal async Task EndWithByeAsync(string reason)
    {
        IDialogObserver? observer;
        lock (_gate)
        {
            if (State == DialogState.Terminated) return;
            observer = Observer;
        }
        _ua.Logger.LogInformation("{Dialog}: {Reason}; sending BYE", this, reason);
        // Not cancellable on purpose: the BYE is what this is for, and its transaction is bounded (Timer F).
        var bye = ByeAsync(CancellationToken.None);
        observer?.OnLost(this, reason);
        await bye;
    }

    /// <summary>Stops the timers of a dialog the user agent abandons (disposal).</summary>
    internal void StopTimers()
    {
        lock (_gate) StopPending2xx();
        _session?.Stop();
    }

    private void StopPending2xx()
    {
        _pending2xx?.Stop();
        _pending2xx = null;
    }

    internal int Pending2xxCount
    {
        get
        {
            lock (_gate) return _pending2xx is null ? 0 : 1;
        }
    }

    /// <summary>A 2xx to a re-INVITE, retransmitted T1, 2·T1 … T2 until its ACK; after 64·T1 the dialog is ended with
    /// a BYE (RFC 3261 §13.3.1.4).</summary>
    private sealed class Pending2xx(SipDialog dialog, SipResponse response, IPEndPoint destination, long cseq)
    {
        private readonly object _gate = new();
        private ITimer? _retransmit, _giveUp;
        private TimeSpan _interval;
        private bool _stopped;

        public long CSeq => cseq;

        public void Start()
        {
            var timers = dialog._ua.Transactions.Timers;
            var time = dialog._ua.Transactions.Time;
            lock (_gate)
            {
                if (_stopped) return;
                _interval = timers.T1;
                _retransmit = time.CreateTimer(_ => Retransmit(), null, _interval, Timeout.InfiniteTimeSpan);
                _giveUp = time.CreateTimer(_ => GiveUp(), null, timers.TransactionTimeout, Timeout.InfiniteTimeSpan);
            }
        }

        private void Retransmit()
        {
            lock (_gate)
            {
                if (_stopped) return;
                var timers = dialog._ua.Transactions.Timers;
                _interval = TimeSpan.FromTicks(Math.Min((_interval * 2).Ticks, timers.T2.Ticks));
                _retransmit?.Change(_interval, Timeout.InfiniteTimeSpan);
            }
            dialog._ua.Transactions.SendStateless(response, destination);
        }

        private void GiveUp()
        {
            lock (_gate)
            {
                if (_stopped) return;
            }
            lock (dialog._gate)
            {
                if (!ReferenceEquals(dialog._pending2xx, this)) return;
            }
            _ = dialog.EndWithByeAsync("no ACK for our 2xx");
        }

        public void Stop()
        {
            lock (_gate)
            {
                _stopped = true;
                _retransmit?.Dispose();
                _giveUp?.Dispose();
            }
        }
    }
}
