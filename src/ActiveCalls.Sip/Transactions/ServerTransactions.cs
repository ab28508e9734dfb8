using System.Net;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Transactions;

/// <summary>A server transaction: the transaction user answers with <see cref="SendResponse"/>; request
/// retransmissions are absorbed and answered with the last response.</summary>
public abstract class ServerTransaction : Transaction
{
    private protected ServerTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote)
        : base(layer, key, request, remote) { }

    /// <summary>The last response sent, if any.</summary>
    public SipResponse? LastResponse { get; private protected set; }

    /// <summary>True once a final response was sent.</summary>
    public bool IsAnswered => LastResponse is { StatusCode: >= 200 };

    /// <summary>Sends a response. Provisional responses after a final one, and a second final one, are ignored (false).</summary>
    public abstract bool SendResponse(SipResponse response);

    internal abstract void OnRetransmission(SipRequest request);
}

/// <summary>Server INVITE transaction (RFC 3261 §17.2.1): 100 Trying at once, Timers G, H, I; a 2xx ends it (the
/// transaction user retransmits the 2xx until the ACK, §13.3.1.4).</summary>
public sealed class InviteServerTransaction : ServerTransaction
{
    private ITimer? _timerG, _timerH;
    private TimeSpan _intervalG;

    internal InviteServerTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote)
        : base(layer, key, request, remote) => State = TransactionState.Proceeding;

    internal void SendTrying() => SendResponse(Request.CreateResponse(100));

    public override bool SendResponse(SipResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        lock (Gate)
        {
            if (State != TransactionState.Proceeding) return false;
            LastResponse = response;
            if (response.StatusCode >= 200) SipMetrics.TransactionCompleted(Request, response.StatusCode, "server");
            if (response.IsSuccess)
            {
                TerminateLocked();
            }
            else if (response.StatusCode >= 300)
            {
                State = TransactionState.Completed;
                _intervalG = Timers.T1;
                _timerG = StartTimer(_intervalG, FireG);
                _timerH = StartTimer(Timers.TransactionTimeout, () => { lock (Gate) TerminateLocked(); });
            }
        }
        if (response.StatusCode >= 200) EndSpan(response.StatusCode);
        TrySend(response, Remote);
        return true;
    }

    private void FireG()
    {
        SipResponse? resend;
        lock (Gate)
        {
            if (State != TransactionState.Completed) return;
            resend = LastResponse;
            _intervalG = TimeSpan.FromTicks(Math.Min((_intervalG * 2).Ticks, Timers.T2.Ticks));
            Stop(ref _timerG);
            _timerG = StartTimer(_intervalG, FireG);
        }
        if (resend is null) return;
        CountRetransmission();
        SipMetrics.Retransmitted(Request, "sent");
        TrySend(resend, Remote);
    }

    internal override void OnRetransmission(SipRequest request)
    {
        SipResponse? resend = null;
        lock (Gate)
        {
            if (request.Method == SipMethods.Ack)
            {
                if (State == TransactionState.Completed)
                {
                    State = TransactionState.Confirmed;
                    Stop(ref _timerG);
                    Stop(ref _timerH);
                    StartTimer(Timers.T4, () => { lock (Gate) TerminateLocked(); });
                }
                return;
            }
            if (State is TransactionState.Proceeding or TransactionState.Completed) resend = LastResponse;
        }
        CountRetransmission();
        SipMetrics.Retransmitted(request, "received");
        if (resend is not null) TrySend(resend, Remote);
    }
}

/// <summary>Server non-INVITE transaction (RFC 3261 §17.2.2): Timer J.</summary>
public sealed class NonInviteServerTransaction : ServerTransaction
{
    internal NonInviteServerTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote)
        : base(layer, key, request, remote) => State = TransactionState.Trying;

    public override bool SendResponse(SipResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        lock (Gate)
        {
            if (State is not (TransactionState.Trying or TransactionState.Proceeding)) return false;
            LastResponse = response;
            if (response.StatusCode >= 200) SipMetrics.TransactionCompleted(Request, response.StatusCode, "server");
            if (response.IsProvisional)
            {
                State = TransactionState.Proceeding;
            }
            else
            {
                State = TransactionState.Completed;
                StartTimer(Timers.TransactionTimeout, () => { lock (Gate) TerminateLocked(); });
            }
        }
        if (response.StatusCode >= 200) EndSpan(response.StatusCode);
        TrySend(response, Remote);
        return true;
    }

    internal override void OnRetransmission(SipRequest request)
    {
        SipResponse? resend;
        lock (Gate) resend = State is TransactionState.Proceeding or TransactionState.Completed ? LastResponse : null;
        CountRetransmission();
        SipMetrics.Retransmitted(request, "received");
        if (resend is not null) TrySend(resend, Remote);
    }
}
