using System.Net;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transactions;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>What to INVITE: the Request-URI, our From (a tag is added), the To, an optional body, and the route.</summary>
public sealed record InviteParameters(SipUri RequestUri, NameAddress From, NameAddress To, byte[]? Body, string? ContentType, SipRoute Route);

/// <summary>
/// An INVITE we sent (UAC, RFC 3261 §13.2): its client transaction(s), a retry with credentials on 401/407, CANCEL
/// (§9.1: only once a provisional response arrived, else as soon as one does), and the dialog its first 2xx creates.
/// After that 2xx it stays known for 64·T1 so that 2xx from other fork branches are ACKed and hung up.
/// </summary>
public sealed class OutgoingInvite
{
    /// <summary>Challenges answered per INVITE: a proxy's 407 and then the phone's 401; two more for stale nonces.</summary>
    private const int MaxAuthAttempts = 2, MaxStaleAttempts = 4;
    private readonly SipUserAgent _ua;
    private readonly IInviteObserver _observer;
    private readonly object _gate = new();
    private readonly string _targetDomain;
    private int _authAttempts;
    private int _intervalRetries;
    private int _nonceCount;
    private bool _cancelRequested, _cancelSent, _finished, _provisional;

    internal OutgoingInvite(SipUserAgent ua, InviteParameters parameters, IInviteObserver observer)
    {
        _ua = ua;
        _observer = observer;
        _targetDomain = parameters.RequestUri.Host;
        CallId = SipUserAgent.NewCallId(ua.Transport.AdvertisedHost);
        var from = parameters.From.Clone();
        from.Tag = SipUserAgent.NewTag();
        LocalTag = from.Tag;
        var to = parameters.To.Clone();
        to.Tag = null;

        var uri = (parameters.Route.Contact ?? parameters.RequestUri).Clone();
        uri.Headers.Clear();
        var request = new SipRequest(SipMethods.Invite, uri);
        request.Headers.Add("Via", ua.NewVia());
        request.Headers.Add("Max-Forwards", "70");
        if (parameters.Route.OutboundProxy is { } proxy) request.Headers.Add("Route", new NameAddress(proxy).ToString());
        request.Headers.Add("From", from.ToString());
        request.Headers.Add("To", to.ToString());
        request.Headers.Add("Call-ID", CallId);
        request.Headers.Add("CSeq", new CSeqHeader(1, SipMethods.Invite).ToString());
        request.Headers.Add("Contact", ua.ContactHeader);
        request.Headers.Add("Allow", SipUserAgent.AllowedMethods);
        request.Headers.Add("User-Agent", ua.Options.UserAgent);
        if (ua.Options.SessionTimers is { Enabled: true } timers)
        {
            // We are the UAC and offer to refresh (RFC 4028 §7.1); the 2xx settles it (SipDialog.Negotiated).
            SessionTimerHeaders.Add(request, timers.SessionExpiresSeconds, "uac", timers.MinSESeconds);
        }
        request.SetBody(parameters.Body, parameters.ContentType);
        Request = request;
    }

    public string CallId { get; }

    /// <summary>Our From tag.</summary>
    public string LocalTag { get; }

    /// <summary>The INVITE as last sent (after an authentication retry, the one with credentials).</summary>
    public SipRequest Request { get; private set; }

    /// <summary>The branch of the INVITE as last sent.</summary>
    public string Branch => Request.TopVia.Branch!;

    /// <summary>Where the INVITE went.</summary>
    public IPEndPoint? Destination { get; private set; }

    /// <summary>The To tag of the last provisional response, if it had one (an early dialog).</summary>
    public string? EarlyRemoteTag { get; private set; }

    /// <summary>The dialog of the first 2xx.</summary>
    public SipDialog? Dialog { get; private set; }

    /// <summary>True once a final response (or a local timeout) ended the INVITE.</summary>
    public bool IsFinished
    {
        get
        {
            lock (_gate) return _finished;
        }
    }

    internal string Key => SipUserAgent.InviteKey(CallId, LocalTag);

    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        Destination = await SipUserAgent.NextHopAsync(Request, cancellationToken);
        Send(Request);
    }

    private void Send(SipRequest request)
    {
        lock (_gate) Request = request; // set first: responses are matched to the request last sent
        _ua.Transactions.SendRequest(request, Destination!, OnResponse);
    }

    /// <summary>
    /// Cancels the INVITE: a CANCEL now if a provisional response came, else as soon as one comes. False when the
    /// INVITE already has its final response (the caller must BYE an answered call instead).
    /// </summary>
    public bool Cancel()
    {
        bool sendNow;
        lock (_gate)
        {
            if (_finished || Dialog is not null) return false;
            _cancelRequested = true;
            sendNow = _provisional && !_cancelSent;
            if (sendNow) _cancelSent = true;
        }
        if (sendNow) SendCancel();
        return true;
    }

    /// <summary>True when <see cref="Cancel"/> was called.</summary>
    public bool CancelRequested
    {
        get
        {
            lock (_gate) return _cancelRequested;
        }
    }

    private void SendCancel()
    {
        SipRequest invite;
        lock (_gate) invite = Request;
        _ua.Transactions.SendRequest(CancelFor(invite, _ua.Options.UserAgent), Destination!, (_, r) =>
        {
            if (r.StatusCode >= 200) _ua.Logger.LogDebug("CANCEL of {CallId} answered {Status}", CallId, r.StatusCode);
        });
    }

    /// <summary>The CANCEL of <paramref name="invite"/> (RFC 3261 §9.1: its Request-URI, top Via, Route, From, To,
    /// Call-ID and CSeq number).</summary>
    internal static SipRequest CancelFor(SipRequest invite, string userAgent)
    {
        var cancel = new SipRequest(SipMethods.Cancel, invite.RequestUri.Clone());
        cancel.Headers.Add("Via", invite.Headers.GetValues("Via")[0]);
        cancel.Headers.Add("Max-Forwards", "70");
        foreach (var route in invite.Headers.GetFields("Route")) cancel.Headers.Add("Route", route);
        cancel.Headers.Add("From", invite.Headers["From"]!);
        cancel.Headers.Add("To", invite.Headers["To"]!);
        cancel.Headers.Add("Call-ID", invite.CallId);
        cancel.Headers.Add("CSeq", new CSeqHeader(invite.CSeq.Number, SipMethods.Cancel).ToString());
        cancel.Headers.Add("User-Agent", userAgent);
        return cancel;
    }

    private void OnResponse(ClientTransaction tx, SipResponse response)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(tx.Request, Request) || _finished) return;
        }

        if (response.IsProvisional)
        {
            bool cancelNow;
            lock (_gate)
            {
                _provisional = true;
                if (response.To.Tag is { } tag) EarlyRemoteTag = tag;
                cancelNow = _cancelRequested && !_cancelSent;
                if (cancelNow) _cancelSent = true;
            }
            if (cancelNow) SendCancel();
            _observer.OnProvisional(this, response);
            return;
        }

        if (response.IsSuccess)
        {
            var dialog = new SipDialog(_ua, tx.Request, response, _targetDomain);
            lock (_gate)
            {
                _finished = true;
                Dialog = dialog;
            }
            _ua.Register(dialog);
            _ua.KeepForForks(this);
            _observer.OnAnswered(this, dialog, response);
            return;
        }

        if (response.StatusCode is 401 or 407 && TryAuthenticate(tx.Request, response)) return;
        if (response.StatusCode == 422 && TryLargerInterval(tx.Request, response)) return;

        lock (_gate) _finished = true;
        _ua.Forget(this);
        _observer.OnFailed(this, response);
    }

    private bool TryAuthenticate(SipRequest sent, SipResponse challengeResponse)
    {
        lock (_gate)
        {
            if (_cancelRequested) return false;
        }
        var challenge = DigestAuthentication.SelectChallenge(challengeResponse);
        if (challenge is null) return false;
        if (_authAttempts >= (challenge.Stale ? MaxStaleAttempts : MaxAuthAttempts)) return false;
        var credentials = _ua.Router.CredentialsFor(_targetDomain, challenge.Realm);
        if (credentials is null)
        {
            _ua.Logger.LogInformation("INVITE {CallId} challenged by realm {Realm}: no credentials configured", CallId, challenge.Realm);
            return false;
        }
        _authAttempts++;
        var retry = sent.Clone();
        retry.SetTopVia(ViaHeader.Parse(_ua.NewVia()));
        retry.CSeq = new CSeqHeader(sent.CSeq.Number + 1, SipMethods.Invite);
        var header = DigestAuthentication.AnswerHeaderFor(challengeResponse.StatusCode);
        retry.Headers.Remove(header);
        retry.Headers.Add(header, DigestAuthentication.CreateAuthorization(challenge, SipMethods.Invite, sent.RequestUri.ToString(),
            credentials.Value.Username, credentials.Value.Password, ++_nonceCount));
        _ua.Logger.LogDebug("INVITE {CallId}: answering a {Status} challenge from realm {Realm}", CallId, challengeResponse.StatusCode, challenge.Realm);
        Send(retry);
        return true;
    }

    /// <summary>
    /// 422 Session Interval Too Small (RFC 4028 §7.1): INVITE again, same Call-ID and From tag, next CSeq, a new
    /// branch, asking for the 422's Min-SE as both Session-Expires and Min-SE. Twice at most (a proxy and the phone).
    /// </summary>
    private bool TryLargerInterval(SipRequest sent, SipResponse tooSmall)
    {
        lock (_gate)
        {
            if (_cancelRequested) return false;
        }
        if (SessionExpiresValue.From(sent) is not { } asked || SessionExpiresValue.MinSE(tooSmall) is not int minSE
            || minSE <= asked.Seconds || _intervalRetries >= 2) return false;
        _intervalRetries++;
        var retry = sent.Clone();
        retry.SetTopVia(ViaHeader.Parse(_ua.NewVia()));
        retry.CSeq = new CSeqHeader(sent.CSeq.Number + 1, SipMethods.Invite);
        SessionTimerHeaders.Add(retry, minSE, "uac", minSE);
        _ua.Logger.LogDebug("INVITE {CallId}: 422, asking again for a session interval of {Interval} s", CallId, minSE);
        Send(retry);
        return true;
    }

    /// <summary>A 2xx from another fork branch, after the first one: ACK and hang up that branch (RFC 3261 §13.2.2.4).</summary>
    internal async Task OnForked2xxAsync(SipResponse response)
    {
        var dialog = new SipDialog(_ua, Request, response, _targetDomain);
        var offer = Sdp.IsSdp(response.Body, response.ContentType) && !Sdp.IsSdp(Request.Body, Request.ContentType) ? response.Body : null;
        await dialog.SendAckAsync(offer is null ? null : Sdp.RejectAll(offer), offer is null ? null : Sdp.ContentType);
        await dialog.ByeAsync();
    }
}
