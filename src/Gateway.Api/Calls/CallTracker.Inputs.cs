using System.Diagnostics;
using Gateway.Api.Calls.State;
using Gateway.Api.Hosting;
using Gateway.Api.Calls.Store;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Calls;

/// <summary>The inputs: the command workflows' steps and the PubSub items.</summary>
public sealed partial class CallTracker
{
    // ---- commands ------------------------------------------------------------------------------------------------

    /// <summary>Registers a create about to be sent, so events of its call-setup-id are held for it.</summary>
    /// <exception cref="CallSetupIdInUseException">a known call or another create in flight uses the id.</exception>
    /// <exception cref="CreateOutcomeUnknownException">an earlier create with the id may have been carried out.</exception>
    public Task BeginCreateAsync(string callSetupId, string from, string to, string? owner, CallStatusCallback? statusCallback = null,
        CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            var existing = await ReadAsync(callSetupId, cancellationToken);
            if (existing is { Visible: true } or { CreateInFlight: true }) throw new CallSetupIdInUseException(callSetupId);
            if (existing is { OutcomeUnknownSince: not null }) throw new CreateOutcomeUnknownException(callSetupId);
            // The request's trace becomes the call's: what happens to the call later is traced in it.
            var call = CallStateMachine.BeginCreate(existing, callSetupId, from, to, owner, _time.GetUtcNow(), statusCallback) with { TraceParent = GatewayTracing.CurrentTraceParent() };
            await CommitAsync(new CallCommit { Calls = [call] }, cancellationToken);
            return 0;
        }, cancellationToken);

    /// <summary>The create succeeded: the call becomes visible under the call-setup-id the component returned.</summary>
    public Task<TrackedCall> CompleteCreateAsync(string sentCallSetupId, string resultCallSetupId, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            var now = _time.GetUtcNow();
            var call = await ReadAsync(sentCallSetupId, cancellationToken)
                       ?? throw new InvalidOperationException($"No create in flight for '{sentCallSetupId}'.");
            var removed = new List<TrackedCall>();
            if (!string.Equals(resultCallSetupId, sentCallSetupId, StringComparison.Ordinal))
            {
                _logger.LogWarning("The component answered call-setup-id {Result} to a create sent with {Sent}", resultCallSetupId, sentCallSetupId);
                var early = await ReadAsync(resultCallSetupId, cancellationToken);
                removed.Add(call);
                if (early is not null) removed.Add(early);
                // Written under the new id: worked out from whatever that id held.
                call = CallStateMachine.Rename(call, resultCallSetupId, early, now, _timings) with { Version = early?.Version ?? 0 };
            }
            var transition = CallStateMachine.CompleteCreate(call, now, _timings);
            await CommitAsync(new CallCommit { RemovedCalls = [.. removed.Select(c => c.Id)], Calls = [transition.Call], Events = transition.Events },
                cancellationToken, [.. removed.Where(c => c.Id != transition.Call.Id)]);
            return transition.Call;
        }, cancellationToken);

    /// <summary>The create failed; see <see cref="CallStateMachine.AbandonCreate"/>.</summary>
    public Task AbandonCreateAsync(string callSetupId, bool outcomeUnknown) =>
        WriteAsync(async () =>
        {
            // Not the request's token: the request may be what was cancelled, and the call must not stay in flight.
            if (await ReadAsync(callSetupId, CancellationToken.None) is not { } call) return 0;
            await AbandonLockedAsync(call, outcomeUnknown, CancellationToken.None);
            return 0;
        }, CancellationToken.None);

    private async Task AbandonLockedAsync(TrackedCall call, bool outcomeUnknown, CancellationToken cancellationToken)
    {
        var transition = CallStateMachine.AbandonCreate(call, outcomeUnknown, _time.GetUtcNow(), _timings);
        if (transition is null) await CommitAsync(new CallCommit { RemovedCalls = [call.Id] }, cancellationToken, call);
        else await CommitAsync(new CallCommit { Calls = [transition.Call], Events = transition.Events }, cancellationToken);
    }

    /// <summary>Applies <paramref name="update"/> to the call <paramref name="id"/> (null: leave it) and commits it with its
    /// intents; returns the call as it is now, or null when unknown. <paramref name="update"/> may run more than once
    /// (with a shared store, again on a fresher value when another replica changed the call meanwhile).</summary>
    public Task<TrackedCall?> UpdateAsync(string id, Func<TrackedCall, CallUpdate?> update, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            if (await ReadAsync(id, cancellationToken) is not { } call) return null;
            if (update(call) is not { } change) return call;
            var unchanged = ReferenceEquals(change.Transition.Call, call);
            await CommitAsync(new CallCommit
            {
                Calls = unchanged ? [] : [change.Transition.Call],
                Events = change.Transition.Events,
                Intents = change.Intents,
                RemovedIntents = change.RemovedIntents,
            }, cancellationToken, unchanged ? [call] : []);
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
            if (await ReadByItemAsync(itemId, cancellationToken) is not { } call) return 0;
            using var span = GatewayTracing.StartCallSpan("call.events.apply", ActivityKind.Consumer, call.Id, call.TraceParent);
            using var scope = _logger.BeginScope("Call {CallId}", call.Id);
            span?.SetTag("pubsub.item.id", itemId);
            span?.SetTag("pubsub.event", "retract");
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
            foreach (var call in await LiveCallsAsync(cancellationToken))
            {
                var transition = CallStateMachine.EndVanishedLegs(call, present, snapshotRequestedAt, _time.GetUtcNow(), _timings);
                if (!transition.Changed(call)) continue;
                var vanished = transition.Call.Legs.Count(l => l.Retracted) - call.Legs.Count(l => l.Retracted);
                ended += vanished;
                if (call.Legs.IsEmpty)
                    _logger.LogInformation("Reconciliation: call {CallId}, created at {CreatedAt}, never showed a leg and the service has none: it ended unseen",
                        call.Id, call.CreatedAt);
                else _logger.LogInformation("Reconciliation: {Count} legs of call {CallId} ended while events were not received", vanished, call.Id);
                await ApplyAsync(call, transition, cancellationToken);
            }
            if (snapshotRequestedAt is { } fetchedAt) await ResolveUnknownCreatesLockedAsync(current, fetchedAt, cancellationToken);
            return new ReconcileResult(applied, ended);
        }, cancellationToken);
    }

    private async Task ApplyPublishedLockedAsync(ActiveCallItem item, string itemId, string node, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var call = await ReadByItemAsync(itemId, cancellationToken) ?? await LocateAsync(item, itemId, now, cancellationToken);
        using var span = GatewayTracing.StartCallSpan("call.events.apply", ActivityKind.Consumer, call.Id, call.TraceParent);
        using var scope = _logger.BeginScope("Call {CallId}", call.Id);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("pubsub.item.id", itemId);
            span.SetTag("pubsub.node", node);
            span.SetTag("pubsub.event", "publish");
            span.SetTag("activecalls.dialog_state", item.DialogStateText);
        }
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
        return await ReadAsync(id, cancellationToken) ?? CallStateMachine.NewFromItem(item, itemId, now, _timings);
    }

    /// <summary>Creates of unknown outcome that none of the fetched items claims are forgotten (their ids free again).</summary>
    private async Task ResolveUnknownCreatesLockedAsync(IReadOnlyCollection<(string ItemId, string Node, ActiveCallItem Item)> current, DateTimeOffset fetchedAt,
        CancellationToken cancellationToken)
    {
        var present = current.Select(c => c.Item.CallSetupId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var forgotten = new List<TrackedCall>();
        var missed = new List<TrackedCall>();
        foreach (var call in (await LiveCallsAsync(cancellationToken)).Where(c => c.OutcomeUnknownSince is not null))
        {
            var resolved = CallStateMachine.ResolveUnknownCreate(call, present, fetchedAt, _timings);
            if (resolved is null) forgotten.Add(call);
            else if (resolved.Changed(call)) missed.Add(resolved.Call);
        }
        if (forgotten.Count == 0 && missed.Count == 0) return;
        if (forgotten.Count > 0)
            _logger.LogInformation("Reconciliation: creates of unknown outcome {CallIds} placed no call; their call-setup-ids are free again",
                forgotten.Select(c => c.Id));
        await CommitAsync(new CallCommit { RemovedCalls = [.. forgotten.Select(c => c.Id)], Calls = missed }, cancellationToken, [.. forgotten]);
    }
}
