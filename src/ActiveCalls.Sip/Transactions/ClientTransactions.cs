using System.Net;
using ActiveCalls.Sip.Messages;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.Transactions;

/// <summary>
/// A client transaction. Every response is passed to the owner's callback in order: provisional ones, then exactly
/// one final one. A timeout (Timer B/F) is reported as a locally made 408, a transport failure as a local 503
/// (RFC 3261 §8.1.3.1), both with <see cref="SipResponse"/> built from the request.
/// </summary>
public abstract class ClientTransaction : Transaction
{
    private readonly Action<ClientTransaction, SipResponse> _onResponse;
    private readonly TaskCompletionSource<SipResponse> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private protected ClientTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote, Action<ClientTransaction, SipResponse> onResponse)
        : base(layer, key, request, remote) => _onResponse = onResponse;

    /// <summary>The final response (or the local 408/503).</summary>
    public Task<SipResponse> FinalResponse => _final.Task;

    internal abstract void Start();

    internal abstract void OnResponse(SipResponse response);

    private protected void Deliver(SipResponse response)
    {
        if (response.StatusCode >= 200)
        {
            EndSpan(response.StatusCode);
            if (_final.TrySetResult(response)) SipMetrics.TransactionCompleted(Request, response.StatusCode, "client");
        }
        try
        {
            _onResponse(this, response);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogError(e, "Transaction {Key}: the response handler failed", Key);
        }
    }
}

/// <summary>Client INVITE transaction (RFC 3261 §17.1.1): Timers A, B, D; ACK for non-2xx finals.</summary>
public sealed class InviteClientTransaction : ClientTransaction
{
    private ITimer? _timerA, _timerB, _timerD;
    private TimeSpan _intervalA;
    private SipRequest? _ack;

    internal InviteClientTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote, Action<ClientTransaction, SipResponse> onResponse)
        : base(layer, key, request, remote, onResponse) => State = TransactionState.Calling;

    internal override void Start()
    {
        lock (Gate)
        {
            _intervalA = Timers.T1;
            _timerA = StartTimer(_intervalA, FireA);
            _timerB = StartTimer(Timers.TransactionTimeout, FireB);
        }
        if (!TrySend(Request, Remote)) Fail(503, "Service Unavailable (transport error)");
    }

    private void FireA()
    {
        lock (Gate)
        {
            if (State != TransactionState.Calling) return;
            _intervalA *= 2;
            Stop(ref _timerA);
            _timerA = StartTimer(_intervalA, FireA);
        }
        CountRetransmission();
        SipMetrics.Retransmitted(Request, "sent");
        TrySend(Request, Remote);
    }

    private void FireB()
    {
        lock (Gate)
        {
            if (State != TransactionState.Calling) return;
        }
        Fail(408, "Request Timeout");
    }

    private void FireD()
    {
        lock (Gate) TerminateLocked();
    }

    private void Fail(int status, string reason)
    {
        lock (Gate)
        {
            if (State is TransactionState.Completed or TransactionState.Terminated) return;
            TerminateLocked();
        }
        Deliver(SipResponseFactory.Local(Request, status, reason));
    }

    internal override void OnResponse(SipResponse response)
    {
        SipRequest? resendAck = null;
        bool deliver = false;
        lock (Gate)
        {
            switch (State)
            {
                case TransactionState.Calling or TransactionState.Proceeding when response.IsProvisional:
                    State = TransactionState.Proceeding;
                    Stop(ref _timerA);
                    Stop(ref _timerB);
                    deliver = true;
                    break;
                case TransactionState.Calling or TransactionState.Proceeding when response.IsSuccess:
                    TerminateLocked();
                    deliver = true;
                    break;
                case TransactionState.Calling or TransactionState.Proceeding:
                    State = TransactionState.Completed;
                    Stop(ref _timerA);
                    Stop(ref _timerB);
                    _ack = SipResponseFactory.AckForNonSuccess(Request, response);
                    resendAck = _ack;
                    _timerD = StartTimer(Timers.TimerD, FireD);
                    deliver = true;
                    break;
                case TransactionState.Completed when response.StatusCode >= 300:
                    resendAck = _ack; // a retransmitted final response: ACK again, tell nobody
                    break;
            }
        }
        if (resendAck is not null) TrySend(resendAck, Remote);
        if (deliver) Deliver(response);
    }
}

/// <summary>Client non-INVITE transaction (RFC 3261 §17.1.2): Timers E, F, K.</summary>
public sealed class NonInviteClientTransaction : ClientTransaction
{
    private ITimer? _timerE, _timerF, _timerK;
    private TimeSpan _intervalE;

    internal NonInviteClientTransaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote, Action<ClientTransaction, SipResponse> onResponse)
        : base(layer, key, request, remote, onResponse) => State = TransactionState.Trying;

    internal override void Start()
    {
        lock (Gate)
        {
            _intervalE = Timers.T1;
            _timerE = StartTimer(_intervalE, FireE);
            _timerF = StartTimer(Timers.TransactionTimeout, FireF);
        }
        if (!TrySend(Request, Remote)) Fail(503, "Service Unavailable (transport error)");
    }

    private void FireE()
    {
        lock (Gate)
        {
            if (State is not (TransactionState.Trying or TransactionState.Proceeding)) return;
            _intervalE = State == TransactionState.Trying ? TimeSpan.FromTicks(Math.Min((_intervalE * 2).Ticks, Timers.T2.Ticks)) : Timers.T2;
            Stop(ref _timerE);
            _timerE = StartTimer(_intervalE, FireE);
        }
        CountRetransmission();
        SipMetrics.Retransmitted(Request, "sent");
        TrySend(Request, Remote);
    }

    private void FireF() => Fail(408, "Request Timeout");

    private void Fail(int status, string reason)
    {
        lock (Gate)
        {
            if (State is TransactionState.Completed or TransactionState.Terminated) return;
            TerminateLocked();
        }
        Deliver(SipResponseFactory.Local(Request, status, reason));
    }

    internal override void OnResponse(SipResponse response)
    {
        bool deliver = false;
        lock (Gate)
        {
            if (State is TransactionState.Trying or TransactionState.Proceeding)
            {
                deliver = true;
                if (response.IsProvisional)
                {
                    State = TransactionState.Proceeding;
                }
                else
                {
                    State = TransactionState.Completed;
                    Stop(ref _timerE);
                    Stop(ref _timerF);
                    _timerK = StartTimer(Timers.T4, () => { lock (Gate) TerminateLocked(); });
                }
            }
        }
        if (deliver) Deliver(response);
    }
}
