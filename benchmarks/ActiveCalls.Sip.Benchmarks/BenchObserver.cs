using System.Collections.Concurrent;
using ActiveCalls.Sip.CallControl;

namespace ActiveCalls.Sip.Benchmarks;

/// <summary>One call of the benchmark, found by its call-setup id.</summary>
internal sealed class BenchCall
{
    private readonly HashSet<string> _live = [];

    public TaskCompletionSource<DialogId> Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the last retract's reason once no leg of the call is published.</summary>
    public TaskCompletionSource<string> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The caller↔callee leg (on A's node, no branch) once confirmed: what a client terminates.</summary>
    public DialogId? Connection { get; private set; }

    public void Updated(CallLeg leg)
    {
        lock (_live)
        {
            _live.Add(leg.ItemId);
            if (leg is { State: LegState.Confirmed, Branch: null, FromTag: { } from, ToTag: { } to })
                Connection = new DialogId(leg.CallId, from, to);
        }
    }

    /// <summary>Returns true when this retract was the call's last leg.</summary>
    public bool Retracted(CallLeg leg, LegEnd end)
    {
        bool last;
        lock (_live)
        {
            _live.Remove(leg.ItemId);
            last = _live.Count == 0;
        }
        if (end.Reason == "connected")
        {
            if (Connection is { } c) Connected.TrySetResult(c);
            else Connected.TrySetException(new InvalidOperationException("connected without a confirmed caller-callee leg"));
            return false;
        }
        Connected.TrySetException(new InvalidOperationException($"call ended before connecting: {end.Reason}"));
        if (last) Ended.TrySetResult(end.Reason);
        return last;
    }
}

/// <summary>Counts the engine's leg events and hands each call its connected/ended signals.</summary>
internal sealed class BenchObserver : ICallLegObserver
{
    private readonly ConcurrentDictionary<string, BenchCall> _calls = new(StringComparer.Ordinal);
    private long _updates;
    private long _retracts;
    private long _unknown;

    public ConcurrentDictionary<string, long> EndReasons { get; } = new(StringComparer.Ordinal);

    public long Updates => Interlocked.Read(ref _updates);

    public long Retracts => Interlocked.Read(ref _retracts);

    /// <summary>Events for a call-setup id the benchmark did not register.</summary>
    public long Unknown => Interlocked.Read(ref _unknown);

    public BenchCall Register(string callSetupId)
    {
        var call = new BenchCall();
        if (!_calls.TryAdd(callSetupId, call)) throw new InvalidOperationException($"duplicate call-setup id {callSetupId}");
        return call;
    }

    public void Forget(string callSetupId) => _calls.TryRemove(callSetupId, out _);

    public Task LegUpdatedAsync(CallLeg leg, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _updates);
        if (leg.CallSetupId is { } id && _calls.TryGetValue(id, out var call)) call.Updated(leg);
        else Interlocked.Increment(ref _unknown);
        return Task.CompletedTask;
    }

    public Task LegEndedAsync(CallLeg leg, LegEnd end, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _retracts);
        EndReasons.AddOrUpdate(end.Reason, 1, (_, n) => n + 1);
        if (leg.CallSetupId is { } id && _calls.TryGetValue(id, out var call))
        {
            if (call.Retracted(leg, end)) _calls.TryRemove(id, out _);
        }
        else
        {
            Interlocked.Increment(ref _unknown);
        }
        return Task.CompletedTask;
    }
}
