using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls;

/// <summary>What <see cref="CallTracker.ReconcileAsync"/> did: current items applied, vanished legs ended.</summary>
public sealed record ReconcileResult(int LegsApplied, int LegsEnded);

/// <summary>The call-setup-id is taken by another call.</summary>
public sealed class CallSetupIdInUseException(string callSetupId)
    : Exception($"The call-setup-id '{callSetupId}' is already used by another call.")
{
    public string CallSetupId { get; } = callSetupId;
}

/// <summary>An earlier create with the call-setup-id may have been carried out, and whether it was is not known yet:
/// sending another could place the call twice.</summary>
public sealed class CreateOutcomeUnknownException(string callSetupId)
    : Exception($"Whether an earlier create with call-setup-id '{callSetupId}' placed a call is not known yet.")
{
    public string CallSetupId { get; } = callSetupId;
}

/// <summary>A change to one call: its transition and the command intents written or removed with it, atomically.</summary>
public sealed record CallUpdate(CallTransition Transition)
{
    public IReadOnlyList<CommandIntent> Intents { get; init; } = [];
    public IReadOnlyList<string> RemovedIntents { get; init; } = [];
}

/// <summary>
/// The single writer of call state. Every input (a PubSub item, a command's outcome, time passing) is applied under one
/// asynchronous gate: the call is read from the <see cref="ICallStore"/>, turned into its next value by the pure
/// <see cref="CallStateMachine"/>, committed with its events, and the committed events are handed to the
/// <see cref="CallEventPublisher"/> in commit order. Reads go straight to the store. Deadlines (held events, callee
/// grace, setup timeout) wait in a priority queue; retention purges ended calls in the background.
/// </summary>
public sealed class CallTracker : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly PriorityQueue<string, DateTimeOffset> _deadlines = new();
    // The live calls as committed (immutable values): a snapshot copies the references under the gate and does the rest
    // outside it, so 100,000 live calls hold inputs up for a copy, not for a store read and a sort.
    private readonly Dictionary<string, TrackedCall> _live = new(StringComparer.Ordinal);
    private readonly ICallStore _store;
    private readonly CallEventPublisher _publisher;
    private readonly CallsOptions _options;
    private readonly CallTimings _timings;
    private readonly TimeProvider _time;
    private readonly ILogger<CallTracker> _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _ticker;
    private DateTimeOffset _nextPurge;

    public CallTracker(ICallStore store, CallEventPublisher publisher, IOptions<CallsOptions> options, TimeProvider time, ILogger<CallTracker> logger)
    {
        _store = store;
        _publisher = publisher;
        _options = options.Value;
        _timings = _options.Timings;
        _time = time;
        _logger = logger;
    }

    /// <summary>Completes once the store is open and the consumers started: inputs wait for it.</summary>
    public Task Started => _started.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var head = await _store.OpenAsync(cancellationToken);
            await _publisher.StartAsync(head, _store, cancellationToken);
            var live = await _store.LiveAsync(cancellationToken);
            var interrupted = new List<CallTransition>();
            foreach (var call in live)
            {
                // A create the previous process sent without seeing its answer: its outcome is unknown, as after a timeout.
                if (call.CreateInFlight) interrupted.Add(CallStateMachine.AbandonCreate(call, outcomeUnknown: true, _time.GetUtcNow(), _timings)!);
                else _live[call.Id] = call;
                Schedule(call);
            }
            if (interrupted.Count > 0)
            {
                await CommitAsync(new CallCommit { Calls = [.. interrupted.Select(t => t.Call)], Events = [.. interrupted.SelectMany(t => t.Events)] }, cancellationToken);
                _logger.LogWarning("{Count} creates were in flight when the previous process stopped; their calls appear if legs show up", interrupted.Count);
            }
            _logger.LogInformation("Call store open: {Live} live calls, event log {Epoch} at {Position}", live.Count, head.Epoch, head.Position);
            _nextPurge = _time.GetUtcNow();
            _ticker = _time.CreateTimer(_ => _ = TickAsync(), null, TickInterval, TickInterval);
            _started.TrySetResult();
        }
        catch (Exception e)
        {
            _started.TrySetException(e);
            throw;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => _ticker?.DisposeAsync().AsTask() ?? Task.CompletedTask;

    // ---- reads ---------------------------------------------------------------------------------------------------

    /// <summary>A visible call by its id or the SIP Call-ID of one of its legs.</summary>
    public async Task<TrackedCall?> FindAsync(string idOrSipCallId, CancellationToken cancellationToken = default)
    {
        await Started;
        if (await _store.GetAsync(idOrSipCallId, cancellationToken) is { Visible: true } byId) return byId;
        return await _store.FindBySipCallIdAsync(idOrSipCallId, cancellationToken) is { Visible: true } bySipCallId ? bySipCallId : null;
    }

    public async Task<CallPageResult> ListAsync(CallQuery query, CancellationToken cancellationToken = default)
    {
        await Started;
        return await _store.ListAsync(query, cancellationToken);
    }

    public async Task<IReadOnlyList<CallEvent>> EventsAsync(string callId, long afterSequence, CancellationToken cancellationToken = default)
    {
        await Started;
        return await _store.EventsAsync(callId, afterSequence, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="atHead"/> with the calls <paramref name="include"/> selects (visible, not ended; or only the
    /// call <paramref name="callId"/>, ended or not) and the position of the last published event, both read while no
    /// input is applied: what a stream shows as a snapshot is exactly as of that position (later events may already be
    /// published when <paramref name="atHead"/> runs; the stream log hands them over after the position).
    /// </summary>
    public async Task<T> SnapshotAsync<T>(Func<CallResource, bool> include, string? callId, Func<IReadOnlyList<CallResource>, long, T> atHead,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(include);
        ArgumentNullException.ThrowIfNull(atHead);
        await Started;
        TrackedCall[] candidates;
        long head;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            candidates = callId is not null
                ? await _store.GetAsync(callId, cancellationToken) is { } one ? [one] : []
                : [.. _live.Values];
            head = _publisher.Head;
        }
        finally
        {
            _gate.Release();
        }
        // The values are immutable: what they say is exactly as of the head, however long this takes.
        var calls = candidates.Where(c => c.Visible).Select(c => c.ToResource()).Where(include).OrderBy(c => c.CreatedAt).ToList();
        return atHead(calls, head);
    }

    // ---- commands ------------------------------------------------------------------------------------------------

    /// <summary>Registers a create about to be sent, so events of its call-setup-id are held for it.</summary>
    /// <exception cref="CallSetupIdInUseException">a known call or another create in flight uses the id.</exception>
    /// <exception cref="CreateOutcomeUnknownException">an earlier create with the id may have been carried out.</exception>
    public Task BeginCreateAsync(string callSetupId, string from, string to, string? owner, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            var existing = await _store.GetAsync(callSetupId, cancellationToken);
            if (existing is { Visible: true } or { CreateInFlight: true }) throw new CallSetupIdInUseException(callSetupId);
            if (existing is { OutcomeUnknownSince: not null }) throw new CreateOutcomeUnknownException(callSetupId);
            await CommitAsync(new CallCommit { Calls = [CallStateMachine.BeginCreate(existing, callSetupId, from, to, owner, _time.GetUtcNow())] }, cancellationToken);
            return 0;
        }, cancellationToken);

    /// <summary>The create succeeded: the call becomes visible under the call-setup-id the component returned.</summary>
    public Task<TrackedCall> CompleteCreateAsync(string sentCallSetupId, string resultCallSetupId, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            var now = _time.GetUtcNow();
            var call = await _store.GetAsync(sentCallSetupId, cancellationToken)
                       ?? throw new InvalidOperationException($"No create in flight for '{sentCallSetupId}'.");
            var removed = new List<string>();
            if (!string.Equals(resultCallSetupId, sentCallSetupId, StringComparison.Ordinal))
            {
                _logger.LogWarning("The component answered call-setup-id {Result} to a create sent with {Sent}", resultCallSetupId, sentCallSetupId);
                var early = await _store.GetAsync(resultCallSetupId, cancellationToken);
                call = CallStateMachine.Rename(call, resultCallSetupId, early, now, _timings);
                removed.Add(sentCallSetupId);
                if (early is not null) removed.Add(resultCallSetupId);
            }
            var transition = CallStateMachine.CompleteCreate(call, now, _timings);
            await CommitAsync(new CallCommit { RemovedCalls = removed, Calls = [transition.Call], Events = transition.Events }, cancellationToken);
            return transition.Call;
        }, cancellationToken);

    /// <summary>The create failed; see <see cref="CallStateMachine.AbandonCreate"/>.</summary>
    public Task AbandonCreateAsync(string callSetupId, bool outcomeUnknown) =>
        WriteAsync(async () =>
        {
            // Not the request's token: the request may be what was cancelled, and the call must not stay in flight.
            if (await _store.GetAsync(callSetupId, CancellationToken.None) is not { } call) return 0;
            var transition = CallStateMachine.AbandonCreate(call, outcomeUnknown, _time.GetUtcNow(), _timings);
            await CommitAsync(transition is null
                ? new CallCommit { RemovedCalls = [call.Id] }
                : new CallCommit { Calls = [transition.Call], Events = transition.Events }, CancellationToken.None);
            return 0;
        }, CancellationToken.None);

    /// <summary>Applies <paramref name="update"/> to the call <paramref name="id"/> (null: leave it) and commits it with its
    /// intents; returns the call as it is now, or null when unknown.</summary>
    public Task<TrackedCall?> UpdateAsync(string id, Func<TrackedCall, CallUpdate?> update, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            if (await _store.GetAsync(id, cancellationToken) is not { } call) return null;
            if (update(call) is not { } change) return call;
            await CommitAsync(new CallCommit
            {
                Calls = ReferenceEquals(change.Transition.Call, call) ? [] : [change.Transition.Call],
                Events = change.Transition.Events,
                Intents = change.Intents,
                RemovedIntents = change.RemovedIntents,
            }, cancellationToken);
            return change.Transition.Call;
        }, cancellationToken);

    /// <summary>Removes intents without touching their calls (an intent whose call is gone).</summary>
    public Task RemoveIntentsAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            await CommitAsync(new CallCommit { RemovedIntents = ids }, cancellationToken);
            return 0;
        }, cancellationToken);

    /// <summary>Writes an intent as it is now (attempts, next attempt) without touching its call.</summary>
    public Task SaveIntentAsync(CommandIntent intent, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            await CommitAsync(new CallCommit { Intents = [intent] }, cancellationToken);
            return 0;
        }, cancellationToken);

    // ---- PubSub --------------------------------------------------------------------------------------------------

    /// <summary>An <c>onsip:active-calls</c> item was published (or re-published) on <paramref name="node"/>.</summary>
    public Task ApplyPublishedAsync(ActiveCallItem item, string itemId, string node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        return WriteAsync(async () =>
        {
            await ApplyPublishedLockedAsync(item, itemId, node, cancellationToken);
            return 0;
        }, cancellationToken);
    }

    /// <summary>An item was retracted: that leg ended. Unknown item ids are ignored (nothing to attribute them to).</summary>
    public Task ApplyRetractedAsync(string itemId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        return WriteAsync(async () =>
        {
            if (await _store.FindByItemAsync(itemId, cancellationToken) is not { } call) return 0;
            await ApplyAsync(call, CallStateMachine.ApplyRetracted(call, itemId, _time.GetUtcNow(), _timings), cancellationToken);
            return 0;
        }, cancellationToken);
    }

    /// <summary>
    /// Brings the calls in line with the items that exist now (fetched after a (re)subscription): every current item is
    /// applied like a notification, and every live leg not among them ended while nobody was listening. Legs seen after
    /// <paramref name="snapshotRequestedAt"/> are spared: a notification newer than the fetch wins.
    /// </summary>
    public Task<ReconcileResult> ReconcileAsync(IReadOnlyCollection<(string ItemId, string Node, ActiveCallItem Item)> current,
        DateTimeOffset? snapshotRequestedAt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        return WriteAsync(async () =>
        {
            var applied = 0;
            foreach (var (itemId, node, item) in current)
            {
                if (string.IsNullOrEmpty(itemId)) continue;
                await ApplyPublishedLockedAsync(item, itemId, node, cancellationToken);
                applied++;
            }
            var present = current.Select(c => c.ItemId).ToHashSet(StringComparer.Ordinal);
            var ended = 0;
            foreach (var call in _live.Values.ToList())
            {
                var transition = CallStateMachine.EndVanishedLegs(call, present, snapshotRequestedAt, _time.GetUtcNow(), _timings);
                if (!transition.Changed(call)) continue;
                var vanished = transition.Call.Legs.Count(l => l.Retracted) - call.Legs.Count(l => l.Retracted);
                ended += vanished;
                _logger.LogInformation("Reconciliation: {Count} legs of call {CallId} ended while events were not received", vanished, call.Id);
                await ApplyAsync(call, transition, cancellationToken);
            }
            if (snapshotRequestedAt is { } fetchedAt) await ResolveUnknownCreatesLockedAsync(current, fetchedAt, cancellationToken);
            return new ReconcileResult(applied, ended);
        }, cancellationToken);
    }

    // ---- time ----------------------------------------------------------------------------------------------------

    /// <summary>Applies time to every call whose deadline has passed, and purges the history past its retention.</summary>
    public Task TickAsync() => WriteAsync(async () =>
    {
        var now = _time.GetUtcNow();
        while (_deadlines.TryPeek(out var id, out var due) && due <= now)
        {
            _deadlines.Dequeue();
            // A call is queued once per deadline it ever had: the store says what is due now.
            if (await _store.GetAsync(id, CancellationToken.None) is not { } call || CallStateMachine.NextDeadline(call, _timings) is not { } deadline) continue;
            if (deadline > now)
            {
                _deadlines.Enqueue(id, deadline);
                continue;
            }
            if (CallStateMachine.Tick(call, now, _timings) is { } transition) await ApplyAsync(call, transition, CancellationToken.None);
            else await CommitAsync(new CallCommit { RemovedCalls = [call.Id] }, CancellationToken.None);
        }
        if (now >= _nextPurge)
        {
            _nextPurge = now + PurgeInterval;
            var purged = await _store.PurgeAsync(now - _options.EndedRetention, CancellationToken.None);
            if (purged > 0) _logger.LogInformation("Forgot {Count} calls that ended more than {Retention} ago", purged, _options.EndedRetention);
        }
        return 0;
    }, CancellationToken.None, logFailure: true);

    // ---- internals (under the gate) ------------------------------------------------------------------------------

    private async Task ApplyPublishedLockedAsync(ActiveCallItem item, string itemId, string node, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var call = await _store.FindByItemAsync(itemId, cancellationToken) ?? await LocateAsync(item, itemId, now, cancellationToken);
        if (call.IsEnded && call.Leg(itemId) is null)
        {
            _logger.LogDebug("Ignoring leg {ItemId} of ended call {CallId}", itemId, call.Id);
            return;
        }
        await ApplyAsync(call, CallStateMachine.ApplyPublished(call, item, itemId, node, now, _timings), cancellationToken);
    }

    /// <summary>The call a new leg belongs to: by call-setup-id, else by SIP Call-ID, else a new one.</summary>
    private async Task<TrackedCall> LocateAsync(ActiveCallItem item, string itemId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (id, callSetupId) = CallStateMachine.CallKeyOf(item, itemId);
        if (callSetupId is null && item.CallId is { } sipCallId && await _store.FindBySipCallIdAsync(sipCallId, cancellationToken) is { } bySipCallId)
            return bySipCallId;
        return await _store.GetAsync(id, cancellationToken) ?? CallStateMachine.NewFromItem(item, itemId, now, _timings);
    }

    /// <summary>Creates of unknown outcome that none of the fetched items claims are forgotten (their ids free again).</summary>
    private async Task ResolveUnknownCreatesLockedAsync(IReadOnlyCollection<(string ItemId, string Node, ActiveCallItem Item)> current, DateTimeOffset fetchedAt,
        CancellationToken cancellationToken)
    {
        var present = current.Select(c => c.Item.CallSetupId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var forgotten = new List<string>();
        var missed = new List<TrackedCall>();
        foreach (var call in _live.Values.Where(c => c.OutcomeUnknownSince is not null))
        {
            var resolved = CallStateMachine.ResolveUnknownCreate(call, present, fetchedAt, _timings);
            if (resolved is null) forgotten.Add(call.Id);
            else if (resolved.Changed(call)) missed.Add(resolved.Call);
        }
        if (forgotten.Count == 0 && missed.Count == 0) return;
        if (forgotten.Count > 0)
            _logger.LogInformation("Reconciliation: creates of unknown outcome {CallIds} placed no call; their call-setup-ids are free again", forgotten);
        await CommitAsync(new CallCommit { RemovedCalls = forgotten, Calls = missed }, cancellationToken);
    }

    private async Task ApplyAsync(TrackedCall before, CallTransition transition, CancellationToken cancellationToken)
    {
        if (!transition.Changed(before)) return;
        await CommitAsync(new CallCommit { Calls = [transition.Call], Events = transition.Events }, cancellationToken);
    }

    private async Task CommitAsync(CallCommit commit, CancellationToken cancellationToken)
    {
        if (commit.IsEmpty) return;
        var stored = await _store.CommitAsync(commit, cancellationToken);
        foreach (var id in commit.RemovedCalls) _live.Remove(id);
        foreach (var call in commit.Calls)
        {
            if (call.IsEnded) _live.Remove(call.Id);
            else _live[call.Id] = call;
            Schedule(call);
        }
        _publisher.Publish(stored);
    }

    private void Schedule(TrackedCall call)
    {
        if (CallStateMachine.NextDeadline(call, _timings) is { } deadline) _deadlines.Enqueue(call.Id, deadline);
    }

    private async Task<T> WriteAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken, bool logFailure = false)
    {
        await Started;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await work();
        }
        catch (Exception e) when (logFailure)
        {
            _logger.LogError(e, "Applying time to calls failed; retrying on the next tick");
            return default!;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ticker is not null) await _ticker.DisposeAsync();
        _gate.Dispose();
    }
}
