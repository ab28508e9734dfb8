using System.Diagnostics;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Commands;
using Gateway.Api.Hosting;
using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Gateway.Api.Replicas;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls.Commands;

/// <summary>How an attempt at an intent ended.</summary>
public abstract record IntentOutcome
{
    private IntentOutcome() { }

    /// <summary>The command was carried out; the intent is gone.</summary>
    public sealed record Done : IntentOutcome;
    /// <summary>The call ended (or is gone) first: nothing is left to do; the intent is gone.</summary>
    public sealed record Moot : IntentOutcome;
    /// <summary>The call has no dialog to address yet (a hang-up before the first leg): tried again when the call changes.</summary>
    public sealed record Waiting : IntentOutcome;
    /// <summary>A failure that may pass (server or component unreachable): tried again after <see cref="At"/>.</summary>
    public sealed record Retrying(DateTimeOffset At, CommandFailedException Error) : IntentOutcome;
    /// <summary>The component refused for good; a <c>…-failed</c> event says why and the intent is gone.</summary>
    public sealed record Failed(CommandFailedException Error) : IntentOutcome;
    /// <summary>Another replica is attempting it right now (replicas on Redis).</summary>
    public sealed record Elsewhere : IntentOutcome;
}

/// <summary>
/// Carries out command intents (<see cref="CommandIntent"/>) until each succeeds or becomes moot, across restarts and
/// upstream outages: at start every stored intent is due; a new intent is tried at once; one that waits for a dialog is
/// tried again when its call changes (it reads the event stream); one that failed for a reason that may pass is retried
/// with exponential backoff and jitter. Only one attempt per intent runs at a time.
/// <para>Replicas on Redis share the intents: each attempt first claims its intent (<see cref="ICommandIntentClaims"/>),
/// so only one replica attempts it at a time and none after it was carried out. The replica that wrote an intent makes
/// the first attempt (the answer to the request waits for it); the replica holding the subscription lease carries on
/// every intent that is still stored, reading them from the store every <see cref="CallsOptions.IntentRetryDelay"/>.</para>
/// </summary>
public sealed class CommandIntentRunner : BackgroundService, ICallEventConsumer
{
    // One lock over the intents and their running attempts: "is it still to do?" and "start an attempt" must be one step,
    // or an attempt that just finished could be started again from a stale look (the command then goes out twice).
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CommandIntent> _intents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<IntentOutcome>> _running = new(StringComparer.Ordinal);
    /// <summary>Calls that changed since an attempt on one of their intents began (so a "waiting" outcome is stale).</summary>
    private readonly HashSet<string> _changedCalls = new(StringComparer.Ordinal);
    private TaskCompletionSource _wake = NewSignal();
    private readonly IServiceProvider _services;
    private readonly IActiveCallsCommands _commands;
    private readonly ICommandIntentClaims _claims;
    private readonly IReplicaLeadership _leadership;
    private readonly ICallStore _store;
    private readonly bool _shared;
    private readonly CallsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CommandIntentRunner> _logger;
    private CallTracker? _tracker;

    // The tracker publishes to this runner, so it is resolved lazily rather than injected (a cycle otherwise).
    public CommandIntentRunner(IServiceProvider services, IActiveCallsCommands commands, ICommandIntentClaims claims, IReplicaLeadership leadership,
        ICallStore store, IOptions<CallsOptions> options, TimeProvider time, ILogger<CommandIntentRunner> logger)
    {
        _services = services;
        _commands = commands;
        _claims = claims;
        _leadership = leadership;
        _store = store;
        _shared = store is ISharedCallStore;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public string Name => "command-intents";

    private CallTracker Tracker => _tracker ??= _services.GetRequiredService<CallTracker>();

    async ValueTask ICallEventConsumer.StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        // Shared: the intents left by any replica are the lease holder's, which reads them from the store as it goes.
        if (_shared) return;
        var stored = await store.IntentsAsync(cancellationToken);
        lock (_gate)
            foreach (var intent in stored) _intents[intent.Id] = intent with { NextAttemptAt = DateTimeOffset.MinValue };
        if (stored.Count > 0) _logger.LogInformation("{Count} command intents left by the previous run are carried on", stored.Count);
    }

    /// <summary>A call with a waiting intent changed: it may have a dialog to address now.</summary>
    ValueTask ICallEventConsumer.HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var due = false;
        lock (_gate)
        {
            if (_intents.Count == 0) return ValueTask.CompletedTask;
            var changed = batch.Select(e => e.Event.Call.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var intent in _intents.Values.ToArray())
            {
                if (!changed.Contains(intent.CallId)) continue;
                _changedCalls.Add(intent.CallId);
                // Only an intent waiting for its call to change is due now; one in backoff keeps its time.
                if (intent.NextAttemptAt != DateTimeOffset.MaxValue) continue;
                _intents[intent.Id] = intent with { NextAttemptAt = DateTimeOffset.MinValue };
                due = true;
            }
        }
        if (due) Wake();
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes the intent down with its call's update (one commit), then tries it.</summary>
    public void Track(CommandIntent intent)
    {
        lock (_gate) _intents[intent.Id] = intent;
        Wake();
    }

    /// <summary>Tries the intent now (or joins the attempt already running).</summary>
    public Task<IntentOutcome> AttemptAsync(string intentId)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(intentId, out var running)) return running;
            if (!_intents.TryGetValue(intentId, out var intent)) return Task.FromResult<IntentOutcome>(new IntentOutcome.Done());
            _changedCalls.Remove(intent.CallId);
            var attempt = Task.Run(() => RunAttemptAsync(intent));
            _running[intentId] = attempt;
            return attempt;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Tracker.Started.WaitAsync(stoppingToken);
        var nextRefresh = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Taken before the scan: a wake-up during the scan completes this signal, so it is never missed.
            var signal = Volatile.Read(ref _wake).Task;
            var now = _time.GetUtcNow();
            DateTimeOffset? next = null;
            if (_shared && _leadership.IsLeader)
            {
                if (now >= nextRefresh)
                {
                    nextRefresh = now + _options.IntentRetryDelay;
                    await RefreshFromStoreAsync(stoppingToken);
                }
                next = nextRefresh;
            }
            var due = new List<string>();
            lock (_gate)
                foreach (var intent in _intents.Values)
                {
                    if (intent.NextAttemptAt <= now) due.Add(intent.Id);
                    else if (next is null || intent.NextAttemptAt < next) next = intent.NextAttemptAt;
                }
            foreach (var id in due) _ = AttemptAsync(id);
            try
            {
                if (next is { } at && at - now is var wait && wait < TimeSpan.FromDays(1))
                    await Task.WhenAny(signal, Task.Delay(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, _time, stoppingToken));
                else
                    await signal.WaitAsync(stoppingToken);
                stoppingToken.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Shared store, lease holder: takes on every stored intent it does not know yet (written, or left, by
    /// another replica) and forgets the ones no longer stored (carried out elsewhere).</summary>
    private async Task RefreshFromStoreAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<CommandIntent> stored;
        try
        {
            stored = await _store.IntentsAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Could not read the shared command intents: {Message}", e.Message);
            return;
        }
        var ids = stored.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var intent in stored) _intents.TryAdd(intent.Id, intent);
            foreach (var id in _intents.Keys.Where(id => !ids.Contains(id) && !_running.ContainsKey(id)).ToList()) _intents.Remove(id);
        }
    }

    private async Task<IntentOutcome> RunAttemptAsync(CommandIntent intent)
    {
        // What the intent becomes after this attempt (null: it is gone); applied with the end of the attempt, in one step.
        CommandIntent? after = null;
        IntentOutcome outcome;
        var claimed = false;
        try
        {
            var claim = await _claims.TryClaimAsync(intent.Id, CancellationToken.None);
            claimed = claim == IntentClaim.Claimed;
            outcome = claim switch
            {
                IntentClaim.Claimed => await AttemptOnceAsync(intent),
                IntentClaim.Gone => new IntentOutcome.Done(),
                _ => new IntentOutcome.Elsewhere(),
            };
            switch (outcome)
            {
                case IntentOutcome.Elsewhere:
                    after = intent with { NextAttemptAt = _time.GetUtcNow() + _options.IntentRetryDelay };
                    break;
                case IntentOutcome.Waiting:
                    after = intent with { NextAttemptAt = DateTimeOffset.MaxValue };
                    break;
                case IntentOutcome.Retrying retrying:
                    after = intent with { Attempts = intent.Attempts + 1, NextAttemptAt = retrying.At, LastError = retrying.Error.InnerException?.Message };
                    await Tracker.SaveIntentAsync(after);
                    _logger.LogWarning("{Kind} of call {CallId} failed ({Reason}); attempt {Attempt} at {At:O}",
                        intent.Kind, intent.CallId, after.LastError, after.Attempts + 1, retrying.At);
                    break;
            }
        }
        catch (Exception e)
        {
            // The store failed (or Redis, claiming): keep the intent and try again later.
            var at = _time.GetUtcNow() + _options.IntentMaxRetryDelay;
            after = intent with { NextAttemptAt = at };
            _logger.LogError(e, "{Kind} of call {CallId} could not be recorded; tried again at {At:O}", intent.Kind, intent.CallId, at);
            outcome = new IntentOutcome.Waiting();
        }
        if (claimed) await ReleaseClaimAsync(intent);
        // Shared: after the first attempt the lease holder carries the intent on (it is in the store); it only keeps it.
        if (_shared && !_leadership.IsLeader) after = null;
        lock (_gate)
        {
            _running.Remove(intent.Id);
            if (after is null) _intents.Remove(intent.Id);
            // Changed while this attempt waited for a dialog: it may have one now, so it is due again at once.
            else _intents[intent.Id] = after.NextAttemptAt == DateTimeOffset.MaxValue && _changedCalls.Contains(intent.CallId)
                ? after with { NextAttemptAt = DateTimeOffset.MinValue }
                : after;
        }
        Wake();
        return outcome;
    }

    private async Task ReleaseClaimAsync(CommandIntent intent)
    {
        try
        {
            await _claims.ReleaseAsync(intent.Id, CancellationToken.None);
        }
        catch (Exception e)
        {
            // The claim's lease ends it anyway.
            _logger.LogWarning("Could not release the claim on intent {IntentId}: {Message}", intent.Id, e.Message);
        }
    }

    private async Task<IntentOutcome> AttemptOnceAsync(CommandIntent intent)
    {
        if (await Tracker.FindAsync(intent.CallId) is not { IsEnded: false } call)
        {
            await Tracker.RemoveIntentsAsync([intent.Id]);
            return new IntentOutcome.Moot();
        }
        // In the call's trace, linked to the request that asked (when this attempt is its first).
        using var span = GatewayTracing.StartCallSpan(intent.Kind == CommandIntentKind.Hangup ? "call.hangup" : "call.transfer", ActivityKind.Internal,
            call.Id, call.TraceParent);
        span?.SetTag("activecalls.intent.attempt", intent.Attempts + 1);
        using var scope = _logger.BeginScope("Call {CallId}", call.Id);
        try
        {
            return intent.Kind switch
            {
                CommandIntentKind.Hangup => await HangUpAsync(intent, call),
                CommandIntentKind.Transfer => await TransferAsync(intent, call),
                _ => throw new InvalidOperationException($"Unknown intent kind {intent.Kind}."),
            };
        }
        catch (CommandFailedException e) when (ComponentErrors.IsTransient(e.InnerException))
        {
            var delay = Backoff(intent.Attempts);
            return new IntentOutcome.Retrying(_time.GetUtcNow() + delay, e);
        }
        catch (CommandFailedException e) when (intent.Attempts > 0 && e.InnerException is XmppStanzaErrorException)
        {
            // An earlier attempt's outcome is unknown (it timed out, or the stream was lost after it was sent), and the
            // component now refuses: most likely that attempt went through and the dialog is gone. Not a failure; if the
            // call stays up after all, the client can ask again, and reconciliation ends it if its legs are gone.
            _logger.LogInformation("{Kind} of call {CallId}: refused on attempt {Attempt} after an attempt of unknown outcome ({Reason}); taken as done",
                intent.Kind, call.Id, intent.Attempts + 1, e.InnerException.Message);
            await CompleteAsync(intent, call.Id);
            return new IntentOutcome.Done();
        }
        catch (CommandFailedException e)
        {
            // Refused for good; unless the call ended meanwhile (then the refusal is the goal reached), say so on the call.
            var reason = e.InnerException?.Message ?? e.Message;
            var now = _time.GetUtcNow();
            var after = await Tracker.UpdateAsync(call.Id, c => c.IsEnded
                ? new CallUpdate(CallTransition.Unchanged(c)) { RemovedIntents = [intent.Id] }
                : new CallUpdate(intent.Kind == CommandIntentKind.Hangup ? CallStateMachine.FailHangup(c, reason, now) : CallStateMachine.FailTransfer(c, reason, now))
                    { RemovedIntents = [intent.Id] });
            if (after is null or { IsEnded: true }) return new IntentOutcome.Moot();
            _logger.LogWarning("{Kind} of call {CallId} refused: {Reason}", intent.Kind, call.Id, reason);
            return new IntentOutcome.Failed(e);
        }
    }

    private async Task<IntentOutcome> HangUpAsync(CommandIntent intent, TrackedCall call)
    {
        var plan = CallStateMachine.PlanHangup(call);
        if (plan.IsEmpty) return new IntentOutcome.Waiting();
        await Tracker.UpdateAsync(call.Id, c => new CallUpdate(CallTransition.Unchanged(CallStateMachine.HangupSending(c, plan))));
        var sent = 0;
        foreach (var command in plan)
        {
            try
            {
                if (command.IsTerminate) await _commands.TerminateAsync(command.CallId, command.FromTag, command.ToTag!, CancellationToken.None);
                else await _commands.CancelAsync(command.CallId, command.FromTag, CancellationToken.None);
                sent++;
            }
            catch (CommandFailedException e) when (sent > 0 && e.InnerException is XmppStanzaErrorException)
            {
                // A component that ends the whole call on the first command (a B2BUA such as the reference service) no
                // longer knows the other dialogs: their refusal is the goal reached.
                _logger.LogDebug("Hang-up of {CallId}: {Command} refused after an earlier command succeeded ({Reason})",
                    call.Id, command.IsTerminate ? "terminate" : "cancel", e.InnerException.Message);
            }
        }
        await CompleteAsync(intent, call.Id);
        return new IntentOutcome.Done();
    }

    /// <summary>The intent is carried out: it goes, and for a hang-up the call's request is no longer outstanding (its
    /// reason stays, for when the legs go).</summary>
    private Task CompleteAsync(CommandIntent intent, string callId) =>
        Tracker.UpdateAsync(callId, c => new CallUpdate(CallTransition.Unchanged(intent.Kind == CommandIntentKind.Hangup ? CallStateMachine.HangupCarriedOut(c) : c))
        {
            RemovedIntents = [intent.Id],
        });

    private async Task<IntentOutcome> TransferAsync(CommandIntent intent, TrackedCall call)
    {
        if (CallStateMachine.FindTransferDialog(call) is not { } dialog)
        {
            var reason = $"The call is {CallStateMachine.StateName(call.State)}; only a connected call can be transferred.";
            var now = _time.GetUtcNow();
            await Tracker.UpdateAsync(call.Id, c => new CallUpdate(CallStateMachine.FailTransfer(c, reason, now)) { RemovedIntents = [intent.Id] });
            return new IntentOutcome.Moot();
        }
        await _commands.TransferAsync(dialog.CallId, dialog.FromTag, dialog.ToTag, intent.Endpoint ?? TransferEndpoint.Callee, intent.Target!, CancellationToken.None);
        await CompleteAsync(intent, call.Id);
        return new IntentOutcome.Done();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Wake() => Interlocked.Exchange(ref _wake, NewSignal()).TrySetResult();

    private TimeSpan Backoff(int attempts)
    {
        var exponential = _options.IntentRetryDelay * Math.Pow(2, Math.Min(attempts, 16));
        var capped = exponential < _options.IntentMaxRetryDelay ? exponential : _options.IntentMaxRetryDelay;
        // Full jitter on the upper half: replicas and intents retried together spread out.
        return capped / 2 + capped / 2 * Random.Shared.NextDouble();
    }
}
