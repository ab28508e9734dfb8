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
                tx.SendResponse(request.CreateResponse(200));
                _ua.Forget(this);
                if (wasLive) Observer?.OnByeReceived(this);
                break;

            case SipMethods.Invite:
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

    private void OnReInvite(ServerTransaction tx)
    {
        var request = tx.Request;
        byte[]? offer = null;
        IDialogObserver? observer;
        lock (_gate)
        {
            if (State != DialogState.Confirmed)
            {
                tx.SendResponse(request.CreateResponse(481));
                return;
            }
            if (_outgoingInvitePending)
            {
                tx.SendResponse(request.CreateResponse(491)); // glare (RFC 3261 §14.2)
                return;
            }
            if (_pending2xx is not null || _incomingInvitePending)
            {
                var busy = request.CreateResponse(500, "Previous re-INVITE not finished");
                busy.Headers.Add("Retry-After", Random.Shared.Next(0, 10).ToString(CultureInfo.InvariantCulture));
                tx.SendResponse(busy);
                return;
            }
            if (request.Contacts is { Count: > 0 } contacts) RemoteTarget = contacts[0].Uri;
            if (Sdp.IsSdp(request.Body, request.ContentType))
            {
                RemoteSdp = request.Body;
                offer = request.Body;
            }
            observer = Observer;
            _incomingInvitePending = true;
        }
        _ = AnswerReInviteAsync(tx, offer, observer);
    }

    private bool _incomingInvitePending;

    /// <summary>Answers a re-INVITE: with what the observer says for an offer, else with our current SDP (an offerless
    /// re-INVITE gets our SDP as the offer; its answer comes in the ACK).</summary>
    private async Task AnswerReInviteAsync(ServerTransaction tx, byte[]? offer, IDialogObserver? observer)
    {
        var request = tx.Request;
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
        lock (_gate)
        {
            _incomingInvitePending = false;
            if (State != DialogState.Confirmed)
            {
                response = request.CreateResponse(487);
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
                if (LocalSdp is { Length: > 0 } sdp) response.SetBody(sdp, Sdp.ContentType);
                pending = new Pending2xx(this, response, tx.Remote, request.CSeq.Number);
                _pending2xx = pending;
            }
        }
        tx.SendResponse(response);
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
            dialog.Observer?.OnLost(dialog, "no ACK for our 2xx");
            _ = dialog.ByeAsync();
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
