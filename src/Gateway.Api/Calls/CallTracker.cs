using System.Diagnostics;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Hosting;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
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
/// The writer of call state. Every input (a PubSub item, a command's outcome, time passing) is applied under one
/// asynchronous gate: the call is read from the <see cref="ICallStore"/>, turned into its next value by the pure
/// <see cref="CallStateMachine"/>, committed with its events, and the committed events reach the
/// <see cref="CallEventPublisher"/> in log order. Reads go straight to the store. Deadlines (held events, callee grace,
/// setup timeout) wait in a priority queue; retention purges ended calls in the background.
/// <para>With a shared store (<see cref="ISharedCallStore"/>: replicas on Redis) every replica's tracker writes: each
/// commit names the revisions it was worked out from and is redone from fresh reads when another replica got there
/// first; events are published from the store's log tail (every replica sees every replica's events, in log order);
/// and only the replica holding the subscription lease runs deadlines, retention and the sweep that finishes what a
/// dead replica left half done.</para>
/// </summary>
public sealed partial class CallTracker : IHostedService, IAsyncDisposable
{
    private const int MaxConflictRetries = 32;
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    // Embedded store only: the live calls as committed (immutable values). A snapshot copies the references under the
    // gate and does the rest outside it, so 100,000 live calls hold inputs up for a copy, not for a store read and a sort;
    // and the inputs read the calls they change from here (see ReadAsync).
    private readonly LiveCalls _live = new();
    private readonly ICallStore _store;
    private readonly ISharedCallStore? _shared;
    private readonly CallEventPublisher _publisher;
    private readonly IReplicaLeadership _leadership;
    private readonly CallsOptions _options;
    private readonly CallTimings _timings;
    private readonly TimeProvider _time;
    private readonly ILogger<CallTracker> _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _tail;

    public CallTracker(ICallStore store, CallEventPublisher publisher, IReplicaLeadership leadership, IOptions<CallsOptions> options,
        IOptions<HttpApiOptions> http, TimeProvider time, ILogger<CallTracker> logger)
    {
        _store = store;
        _shared = store as ISharedCallStore;
        _publisher = publisher;
        _leadership = leadership;
        _options = options.Value;
        _timings = _options.Timings;
        // A replica finishes its create (completed or abandoned) within its request's budget, however the IQ ends.
        _abandonedCreateAge = http.Value.RequestTimeout * 2;
        _time = time;
        _logger = logger;
    }

    /// <summary>Completes once the store is open and the consumers started: inputs wait for it.</summary>
    public Task Started => _started.Task;

    /// <summary>Opens the store, starts the consumers and the clock. The embedded store opens before the host goes on (a
    /// broken database stops the start); a shared store is opened in the background, again and again until Redis
    /// answers, so a replica starts while Redis is down and is simply not ready (<see cref="Started"/>) until then.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_shared is null) return OpenAsync(cancellationToken);
        _ = Task.Run(() => OpenSharedAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OpenSharedAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await OpenAsync(cancellationToken);
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _logger.LogWarning("Could not open the shared call store ({Message}); trying again in {Delay}", e.Message, delay);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            var head = await _store.OpenAsync(cancellationToken);
            await _publisher.StartAsync(head, _store, cancellationToken);
            if (_shared is null) await LoadLiveAsync(cancellationToken);
            else _tail = Task.Run(() => TailAsync(_shared, head.Position, _stopping.Token), CancellationToken.None);
            _logger.LogInformation("Call store open ({Store}): event log {Epoch} at {Position}", _store.GetType().Name, head.Epoch, head.Position);
            StartClock();
            _started.TrySetResult();
        }
        catch (Exception e) when (_shared is null)
        {
            _started.TrySetException(e);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await StopClockAsync();
        await _stopping.CancelAsync();
        if (_tail is not null) await _tail.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>The embedded store's live calls, into memory; a create the previous process sent without seeing its
    /// answer has an unknown outcome, as after a timeout.</summary>
    private async Task LoadLiveAsync(CancellationToken cancellationToken)
    {
        var live = await _store.LiveAsync(cancellationToken);
        var interrupted = new List<CallTransition>();
        foreach (var call in live)
        {
            if (call.CreateInFlight) interrupted.Add(CallStateMachine.AbandonCreate(call, outcomeUnknown: true, _time.GetUtcNow(), _timings)!);
            Schedule(call);
        }
        _live.Load(live.Where(c => !c.CreateInFlight));
        if (interrupted.Count == 0) return;
        await CommitAsync(new CallCommit { Calls = [.. interrupted.Select(t => t.Call)], Events = [.. interrupted.SelectMany(t => t.Events)] }, cancellationToken);
        _logger.LogWarning("{Count} creates were in flight when the previous process stopped; their calls appear if legs show up", interrupted.Count);
    }

    /// <summary>Publishes the shared log as every replica commits it, and has the subscription holder look at each call
    /// that changed (its deadlines may have moved).</summary>
    private async Task TailAsync(ISharedCallStore shared, long after, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var batch in shared.TailAsync(after, cancellationToken))
                {
                    _publisher.Publish(batch);
                    after = batch[^1].Position;
                    if (_leadership.IsLeader) foreach (var e in batch) _changed.Enqueue(e.Event.Call.Id);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Without the tail this replica's clients would get no event at all: it starts again after the last one.
                _logger.LogError(e, "Reading the shared call log failed after {Position}; reading again", after);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

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
    /// call <paramref name="callId"/>, ended or not) and the log position they are exactly as of: read while no input is
    /// applied (embedded store) or in one atomic read (shared store, after which this replica's log has caught up with
    /// the position). Later events may already be published when <paramref name="atHead"/> runs; the stream log hands
    /// them over after the position.
    /// </summary>
    public async Task<T> SnapshotAsync<T>(Func<CallResource, bool> include, string? callId, Func<IReadOnlyList<CallResource>, long, T> atHead,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(include);
        ArgumentNullException.ThrowIfNull(atHead);
        await Started;
        var (candidates, head) = _shared is null ? await EmbeddedSnapshotAsync(callId, cancellationToken) : await SharedSnapshotAsync(_shared, callId, cancellationToken);
        // The values are immutable: what they say is exactly as of the head, however long this takes.
        var calls = candidates.Where(c => c.Visible).Select(c => c.ToResource()).Where(include).OrderBy(c => c.CreatedAt).ToList();
        return atHead(calls, head);
    }

    /// <summary>With a shared store: waits (a few seconds at most) until this replica has published the shared log up to
    /// <paramref name="position"/>, e.g. a cursor another replica handed out. The embedded store's log is this process's
    /// own, so a position past its head was never handed out and waiting would not help.</summary>
    public async Task CatchUpAsync(long position, CancellationToken cancellationToken)
    {
        await Started;
        if (_shared is null || _publisher.Head >= position) return;
        try
        {
            await _publisher.WaitForAsync(position, cancellationToken).WaitAsync(CatchUpLimit, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Not a position of the shared log after all: the caller refuses it as ahead of the log.
        }
    }

    private async Task<(IReadOnlyList<TrackedCall>, long)> EmbeddedSnapshotAsync(string? callId, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            TrackedCall[] candidates = callId is not null
                ? await ReadAsync(callId, cancellationToken) is { } one ? [one] : []
                : [.. _live.Values];
            return (candidates, _publisher.Head);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(IReadOnlyList<TrackedCall>, long)> SharedSnapshotAsync(ISharedCallStore shared, string? callId, CancellationToken cancellationToken)
    {
        IReadOnlyList<TrackedCall> candidates;
        long position;
        if (callId is null) (candidates, position) = await shared.SnapshotAsync(cancellationToken);
        else
        {
            // One call: read with the position alone, not with every live call.
            var (call, at) = await shared.SnapshotCallAsync(callId, cancellationToken);
            (candidates, position) = (call is null ? [] : [call], at);
        }
        await _publisher.WaitForAsync(position, cancellationToken);
        return (candidates, position);
    }

    // ---- commits (under the gate) --------------------------------------------------------------------------------

    private async Task ApplyAsync(TrackedCall before, CallTransition transition, CancellationToken cancellationToken)
    {
        if (!transition.Changed(before)) return;
        await CommitAsync(new CallCommit { Calls = [transition.Call], Events = transition.Events }, cancellationToken);
        // The fan-out: each event committed goes to the streams (SignalR, SSE), the webhooks and the intents from the log.
        if (Activity.Current is { IsAllDataRequested: true } span && ReferenceEquals(span.Source, GatewayTracing.Source))
            foreach (var e in transition.Events)
                span.AddEvent(new ActivityEvent("call.event.published", tags: new ActivityTagsCollection
                {
                    ["call.event.type"] = e.Type,
                    ["call.event.sequence"] = e.Sequence,
                }));
    }

    /// <summary>Commits; with a shared store, only while every call written is still at the revision its new value was
    /// worked out from, and every call in <paramref name="guards"/> (removed, or decided on without being written) still at its
    /// revision.</summary>
    private async Task CommitAsync(CallCommit commit, CancellationToken cancellationToken, params TrackedCall[] guards)
    {
        if (commit.IsEmpty) return;
        if (_shared is not null)
        {
            var expected = commit.Calls.Select(c => new CallVersion(c.Id, c.Version)).Concat(guards.Select(c => new CallVersion(c.Id, c.Version)));
            await _store.CommitAsync(commit with { Expected = [.. expected.DistinctBy(v => v.Id)] }, cancellationToken);
            foreach (var call in commit.Calls) Schedule(call);
            return;
        }
        var stored = await _store.CommitAsync(commit, cancellationToken);
        foreach (var id in commit.RemovedCalls) _live.Removed(id);
        foreach (var call in commit.Calls)
        {
            _live.Committed(call);
            Schedule(call);
        }
        _publisher.Publish(stored);
    }

    /// <summary>Runs <paramref name="work"/> under the gate; with a shared store it is run again from fresh reads when a
    /// commit met another replica's change.</summary>
    private async Task<T> WriteAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken, bool logFailure = false)
    {
        await Started;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await work();
                }
                catch (CallCommitConflictException conflict) when (attempt < MaxConflictRetries)
                {
                    _logger.LogDebug("Call {CallId} changed on another replica meanwhile; applying again (attempt {Attempt})", conflict.CallId, attempt + 1);
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 4 * attempt)), _time, cancellationToken);
                }
            }
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

    /// <summary>The call <paramref name="id"/> as committed, under the gate: a live call of the embedded store from memory
    /// (this tracker is its only writer, so memory is what the store holds), anything else from the store.</summary>
    private async ValueTask<TrackedCall?> ReadAsync(string id, CancellationToken cancellationToken) =>
        _shared is null && _live.Get(id) is { } live ? live : await _store.GetAsync(id, cancellationToken);

    /// <summary>The call that wrote PubSub item <paramref name="itemId"/> last, under the gate (as <see cref="ReadAsync"/>).</summary>
    private async ValueTask<TrackedCall?> ReadByItemAsync(string itemId, CancellationToken cancellationToken) =>
        _shared is null && _live.FindByItem(itemId) is { } live ? live : await _store.FindByItemAsync(itemId, cancellationToken);

    /// <summary>The live calls as committed: from memory with the embedded store, from the shared store otherwise.</summary>
    private async Task<IReadOnlyCollection<TrackedCall>> LiveCallsAsync(CancellationToken cancellationToken) =>
        _shared is null ? [.. _live.Values] : await _store.LiveAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await StopClockAsync();
        // Cancelled, not disposed: a host may still call StopAsync after disposing its services.
        await _stopping.CancelAsync();
        _gate.Dispose();
    }
}
