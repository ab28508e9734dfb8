using System.Collections.Concurrent;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;

namespace Gateway.Api.Calls;

/// <summary>Time: deadlines, retention and, with a shared store, the subscription holder's sweep.</summary>
public sealed partial class CallTracker
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly PriorityQueue<string, DateTimeOffset> _deadlines = new();
    /// <summary>Shared store: calls another replica changed (from the log tail), to be looked at on the next tick.</summary>
    private readonly ConcurrentQueue<string> _changed = new();
    private readonly TimeSpan _abandonedCreateAge;
    private ITimer? _ticker;
    private DateTimeOffset _nextPurge;
    private DateTimeOffset _nextSweep;
    private bool _ticking;

    private void StartClock()
    {
        _nextPurge = _time.GetUtcNow();
        _ticker = _time.CreateTimer(_ => _ = TickAsync(), null, TickInterval, TickInterval);
    }

    private async Task StopClockAsync()
    {
        if (_ticker is not null) await _ticker.DisposeAsync();
    }

    /// <summary>Applies time to every call whose deadline has passed, and purges the history past its retention. With a
    /// shared store only the subscription holder does, so each deadline is applied by one replica.</summary>
    public Task TickAsync() => WriteAsync(async () =>
    {
        var now = _time.GetUtcNow();
        if (_shared is not null && !await TakeSharedTurnAsync(now)) return 0;
        var conflicted = new List<string>();
        while (_deadlines.TryPeek(out var id, out var due) && due <= now)
        {
            _deadlines.Dequeue();
            // A call is queued once per deadline it ever had: the store says what is due now.
            if (await ReadAsync(id, CancellationToken.None) is not { } call || CallStateMachine.NextDeadline(call, _timings) is not { } deadline) continue;
            if (deadline > now)
            {
                _deadlines.Enqueue(id, deadline);
                continue;
            }
            try
            {
                if (CallStateMachine.Tick(call, now, _timings) is { } transition) await ApplyAsync(call, transition, CancellationToken.None);
                else await CommitAsync(new CallCommit { RemovedCalls = [call.Id] }, CancellationToken.None, call);
            }
            catch (CallCommitConflictException)
            {
                // Another replica changed it meanwhile: look again on the next tick, at its new value.
                conflicted.Add(id);
            }
        }
        foreach (var id in conflicted) _deadlines.Enqueue(id, now);
        if (now >= _nextPurge)
        {
            _nextPurge = now + PurgeInterval;
            var purged = await _store.PurgeAsync(now - _options.EndedRetention, CancellationToken.None);
            if (purged > 0) _logger.LogInformation("Forgot {Count} calls that ended more than {Retention} ago", purged, _options.EndedRetention);
        }
        return 0;
    }, CancellationToken.None, logFailure: true);

    /// <summary>Shared store: whether this replica applies time now (it holds the lease). A new holder, and every holder
    /// every <see cref="SweepInterval"/>, sweeps the live calls.</summary>
    private async Task<bool> TakeSharedTurnAsync(DateTimeOffset now)
    {
        if (!_leadership.IsLeader)
        {
            _ticking = false;
            _deadlines.Clear();
            _changed.Clear();
            return false;
        }
        if (!_ticking)
        {
            _ticking = true;
            _nextSweep = now;
        }
        // Once per call, however many of its events the tail brought since the last tick.
        var changed = new HashSet<string>(StringComparer.Ordinal);
        while (_changed.TryDequeue(out var id)) changed.Add(id);
        foreach (var id in changed) _deadlines.Enqueue(id, now);
        if (now >= _nextSweep) await SweepAsync(now);
        return true;
    }

    /// <summary>Schedules every live call's deadline, and settles the creates a replica began and never finished (it died
    /// mid-request): a live replica completes or abandons its create within its request's budget, so an older one is
    /// abandoned here with an unknown outcome, as after a restart.</summary>
    private async Task SweepAsync(DateTimeOffset now)
    {
        _nextSweep = now + SweepInterval;
        var abandoned = 0;
        foreach (var call in await _store.LiveAsync(CancellationToken.None))
        {
            if (!call.CreateInFlight || now - call.UpdatedAt <= _abandonedCreateAge)
            {
                Schedule(call);
                continue;
            }
            try
            {
                await AbandonLockedAsync(call, outcomeUnknown: true, CancellationToken.None);
                abandoned++;
            }
            catch (CallCommitConflictException)
            {
                // Its replica finished it after all.
            }
        }
        if (abandoned > 0) _logger.LogWarning("{Count} creates begun by a replica that stopped were never finished; their outcome is unknown", abandoned);
    }

    private void Schedule(TrackedCall call)
    {
        // With a shared store only the holder applies time; a new holder's sweep schedules every live call.
        if (_shared is not null && !_leadership.IsLeader) return;
        if (CallStateMachine.NextDeadline(call, _timings) is { } deadline) _deadlines.Enqueue(call.Id, deadline);
    }
}
