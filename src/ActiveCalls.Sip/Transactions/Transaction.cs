using System.Diagnostics;
using System.Globalization;
using System.Net;
using ActiveCalls.Sip.Messages;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.Transactions;

/// <summary>The RFC 3261 §17 transaction states (one set for all four machines).</summary>
public enum TransactionState { Calling, Trying, Proceeding, Completed, Confirmed, Terminated }

/// <summary>State and timers shared by the four transaction machines. All state changes happen under <see cref="Gate"/>.</summary>
public abstract class Transaction
{
    private readonly List<ITimer> _timers = [];
    private Activity? _span;
    private int _retransmissions;

    private protected Transaction(SipTransactionLayer layer, string key, SipRequest request, IPEndPoint remote)
    {
        Layer = layer;
        Key = key;
        Request = request;
        Remote = remote;
    }

    /// <summary>The transaction's matching key (branch, sent-by and method).</summary>
    public string Key { get; }

    /// <summary>The request that created the transaction.</summary>
    public SipRequest Request { get; }

    /// <summary>Where requests go (client) or responses go (server).</summary>
    public IPEndPoint Remote { get; }

    public TransactionState State { get; private protected set; }

    private protected SipTransactionLayer Layer { get; }

    private protected object Gate { get; } = new();

    private protected SipTimerOptions Timers => Layer.Timers;

    private protected ILogger Logger => Layer.Logger;

    /// <summary>Starts a one-shot timer; it is cancelled when the transaction terminates.</summary>
    private protected ITimer StartTimer(TimeSpan due, Action onFire)
    {
        ITimer? timer = null;
        timer = Layer.Time.CreateTimer(_ =>
        {
            try
            {
                onFire();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Logger.LogError(e, "Transaction {Key} timer failed", Key);
            }
        }, null, due, Timeout.InfiniteTimeSpan);
        lock (Gate) _timers.Add(timer);
        return timer;
    }

    private protected static void Stop(ref ITimer? timer)
    {
        timer?.Dispose();
        timer = null;
    }

    /// <summary>Starts the transaction's span (<see cref="SipTracing"/>); nothing when nobody listens.</summary>
    internal void StartSpan(ActivityKind kind, ActivityContext parent)
    {
        if (!SipTracing.Source.HasListeners()) return;
        var ambient = Activity.Current;
        var span = SipTracing.Source.StartActivity("SIP " + Request.Method, kind, parent);
        if (span is null) return;
        // The span is the transaction's own, not the current context of whoever created the transaction.
        Activity.Current = ambient;
        if (span.IsAllDataRequested)
        {
            span.SetTag("sip.method", Request.Method);
            span.SetTag("sip.call_id", Request.CallId);
            span.SetTag("network.peer.address", Remote.Address.ToString());
            span.SetTag("network.peer.port", Remote.Port);
        }
        _span = span;
    }

    /// <summary>A request or response sent again, or a retransmitted request absorbed.</summary>
    private protected void CountRetransmission()
    {
        if (_span is not null) Interlocked.Increment(ref _retransmissions);
    }

    /// <summary>Ends the span with the final response (once; later calls do nothing).</summary>
    private protected void EndSpan(int? statusCode)
    {
        if (Interlocked.Exchange(ref _span, null) is not { } span) return;
        if (span.IsAllDataRequested)
        {
            span.SetTag("sip.status_code", statusCode);
            span.SetTag("sip.retransmissions", Volatile.Read(ref _retransmissions));
            if (statusCode is null) span.SetStatus(ActivityStatusCode.Error, "ended without a final response");
            else if (statusCode >= 400) span.SetStatus(ActivityStatusCode.Error, statusCode.Value.ToString(CultureInfo.InvariantCulture));
        }
        span.Stop();
    }

    /// <summary>Moves to Terminated, stops every timer and leaves the layer's table. Call under <see cref="Gate"/>.</summary>
    private protected void TerminateLocked()
    {
        if (State == TransactionState.Terminated) return;
        State = TransactionState.Terminated;
        foreach (var t in _timers) t.Dispose();
        _timers.Clear();
        Layer.Remove(this);
    }

    /// <summary>Sends without throwing; returns false when the transport failed.</summary>
    private protected bool TrySend(SipMessage message, IPEndPoint destination)
    {
        try
        {
            Layer.Transport.Send(message, destination);
            return true;
        }
        catch (Transport.SipTransportException e)
        {
            Logger.LogWarning("Transaction {Key}: sending to {Destination} failed: {Error}", Key, destination, e.Message);
            return false;
        }
    }

    /// <summary>Stops every timer and terminates (layer shutdown).</summary>
    internal void Abort()
    {
        lock (Gate) TerminateLocked();
        EndSpan(null);
    }
}
