using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Turns call events into queued deliveries: a consumer of the <see cref="CallEventPublisher"/> (its own lossless queue),
/// writing each batch with one store call, together with the log position the queue is complete up to (the checkpoint).
/// Only the leading replica writes (<see cref="IReplicaLeadership"/>; one process alone always leads), and it is driven
/// by the checkpoint, not by what it happened to receive: events at or below it are skipped, a gap between it and a
/// batch is read from the call log first, and on becoming leader it catches up from the checkpoint to the log's end.
/// So a take-over, or a restart after events were committed but not queued, loses nothing; events received while not
/// leading are dropped (the leader, or whoever leads next, queues them from the checkpoint); and the store's idempotent
/// enqueue doubles nothing even if two writers overlap. When the webhook store fails, the events wait in the queue and
/// the write is retried (reported by the <c>webhooks</c> health check).
/// <para>The checkpoint is read from the store when a term starts and then kept in memory (this writer is the term's
/// only writer). A batch that queues nothing (no subscription wants it: the common case) moves the stored checkpoint at
/// most once per <see cref="CheckpointInterval"/>, not on every batch: each such write is a synced commit, and most events
/// of a busy gateway queue nothing. The cost is bounded and safe: after a crash, at most that interval's events are read
/// again and queued by the same rules (queueing is idempotent, so nothing is doubled).</para>
/// Per-call status callbacks ride the same queue: the call names its callback (<see cref="CallResource.StatusCallback"/>,
/// kept by the call store with the call), and the first event of such a call creates its callback subscription here,
/// in the one writer, from the stored call (its owner is the placing API key), so no event can be queued before it.
/// </summary>
public sealed class WebhookEventWriter(
    IWebhookStore webhooks, IReplicaLeadership leadership, WebhookDispatcher dispatcher, IServiceProvider services,
    IOptionsMonitor<ApiKeysOptions> keys, IOptions<JsonOptions> json, TimeProvider time, ILogger<WebhookEventWriter> logger)
    : ICallEventConsumer, IAsyncDisposable
{
    private const int LogPage = 256;
    /// <summary>How long a checkpoint move that queued nothing may wait in memory before it is stored.</summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;
    // One write at a time: the catch-up of a new term and the batches compare against the same checkpoint.
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private CallLogHead _start = new("", 0);
    // Under _writing: the checkpoint as this term knows it (null: read it from the store), and when it was last stored.
    private long? _checkpoint;
    private DateTimeOffset _checkpointStoredAt;
    private bool _checkpointPending;
    private ICallStore? _log;
    private Task _terms = Task.CompletedTask;
    private volatile string? _lastError;
    private int _disposed;

    public string Name => "webhooks";

    /// <summary>Why the last write failed, while events wait to be stored; null when writes succeed.</summary>
    public string? LastError => _lastError;

    /// <summary>Events published and not yet stored (the publisher is resolved lazily: it is built from its consumers).</summary>
    public int Waiting => services.GetRequiredService<CallEventPublisher>().Backlogs.GetValueOrDefault(Name);

    /// <summary>Whether <paramref name="subscription"/> gets <paramref name="e"/>: an event type it asked for, a call its
    /// owner's API key may see (a party or leg in scope; a key that no longer exists sees nothing) and, when it has an
    /// address filter, a party or leg at that address.</summary>
    public static bool Matches(StoredSubscription subscription, CallEvent e, AddressScope? ownerScope)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(e);
        if (ownerScope is null || subscription.State != WebhookState.Enabled) return false;
        if (subscription.EventTypes is { } types && !types.Contains(e.Type, StringComparer.Ordinal)) return false;
        var addresses = CallAddresses.Of(e.Call).ToList();
        if (!ownerScope.AllowsAny(addresses)) return false;
        return subscription.Address is not { } wanted ||
               addresses.Any(a => string.Equals(SipUri.AddressOf(a), wanted, StringComparison.Ordinal));
    }

    /// <summary>Whether status callback <paramref name="callback"/> gets <paramref name="e"/> (an event of its call): an
    /// event type it asked for, while its owner's API key exists.</summary>
    public static bool MatchesCallback(StoredSubscription callback, CallEvent e, AddressScope? ownerScope)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ArgumentNullException.ThrowIfNull(e);
        if (ownerScope is null || callback.State != WebhookState.Enabled || callback.CallId != e.Call.Id) return false;
        return callback.EventTypes is not { } types || types.Contains(e.Type, StringComparer.Ordinal);
    }

    /// <summary>Remembers the log, then follows the leadership: each term starts by catching up from the checkpoint.</summary>
    public ValueTask StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        _start = head;
        _log = store;
        _terms = FollowLeadershipAsync(_stopping.Token);
        return ValueTask.CompletedTask;
    }

    public async ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            // Asked again on every retry: a replica that lost the lease while the store failed leaves the batch (and the
            // failure, which is no longer its to report) to the leader.
            if (!leadership.IsLeader)
            {
                _lastError = null;
                return;
            }
            try
            {
                await WriteAsync(batch, cancellationToken);
                Recovered();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _lastError = e.Message;
                logger.LogError(e, "{Count} call events could not be stored for webhooks; they wait in memory, next try in {Delay}", batch.Count + Waiting, delay);
                await Task.Delay(delay, time, cancellationToken);
                delay = Min(delay * 2, MaxRetryDelay);
            }
        }
    }

    private async Task FollowLeadershipAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var term = await leadership.WhenLeaderAsync(stoppingToken);
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
                await CatchUpAsync(leading.Token);
                try
                {
                    await Task.Delay(Timeout.Infinite, leading.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogInformation("This replica no longer leads: it leaves queueing webhooks to the next leader");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Queues what the log holds after the checkpoint (retrying while this term lasts): events committed before
    /// the previous leader or process stopped, and those it had not queued yet.</summary>
    private async Task CatchUpAsync(CancellationToken leading)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!leading.IsCancellationRequested)
        {
            try
            {
                await _writing.WaitAsync(leading);
                try
                {
                    // A new term: another replica may have moved the checkpoint while this one did not lead.
                    _checkpoint = null;
                    var replayed = await CatchUpLockedAsync(await CheckpointOrStartAsync(leading), long.MaxValue, leading);
                    if (replayed > 0) logger.LogInformation("Queued {Count} call events for webhooks that were committed but not queued yet", replayed);
                }
                finally
                {
                    _writing.Release();
                }
                Recovered();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Calls must not wait for webhooks: go on, say what may be missing, and try again.
                _lastError = e.Message;
                logger.LogError(e, "Could not queue the call events after the webhook checkpoint; next try in {Delay}", delay);
                await Task.Delay(delay, time, leading);
                delay = Min(delay * 2, MaxRetryDelay);
            }
        }
    }

    private async Task WriteAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            var checkpoint = await CheckpointOrStartAsync(cancellationToken);
            var fresh = batch.Where(e => e.Position > checkpoint).ToList();
            if (fresh.Count == 0) return;
            // Events between the checkpoint and this batch went by while another replica led (or before this term began).
            if (fresh[0].Position > checkpoint + 1) await CatchUpLockedAsync(checkpoint, fresh[0].Position - 1, cancellationToken);
            await StoreAsync(fresh, cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>The stored checkpoint in this log's epoch. Without one (a new store, or a log that started over) the
    /// queue starts at the log's end as this process found it, which is stored as the checkpoint.</summary>
    private async Task<long> CheckpointOrStartAsync(CancellationToken cancellationToken)
    {
        if (_checkpoint is { } known) return known;
        if (await webhooks.CheckpointAsync(cancellationToken) is { } checkpoint && checkpoint.Epoch == _start.Epoch)
        {
            _checkpoint = checkpoint.Position;
            _checkpointStoredAt = time.GetUtcNow();
            return checkpoint.Position;
        }
        await StoreCheckpointAsync([], _start.Position, cancellationToken);
        return _start.Position;
    }

    /// <summary>Stores <paramref name="deliveries"/> with the checkpoint <paramref name="position"/> in one store call.</summary>
    private async Task StoreCheckpointAsync(IReadOnlyList<NewDelivery> deliveries, long position, CancellationToken cancellationToken)
    {
        // Forgotten first: should the write fail, the next batch reads the stored checkpoint again.
        _checkpoint = null;
        await webhooks.EnqueueAsync(deliveries, new CallLogHead(_start.Epoch, position), cancellationToken);
        _checkpoint = position;
        _checkpointStoredAt = time.GetUtcNow();
        _checkpointPending = false;
    }

    /// <summary>Queues the log's events after <paramref name="after"/> up to <paramref name="until"/>, page by page.</summary>
    private async Task<int> CatchUpLockedAsync(long after, long until, CancellationToken cancellationToken)
    {
        var log = _log ?? throw new InvalidOperationException("The writer has not been started.");
        var queued = 0;
        while (after < until)
        {
            var page = (await log.ReadLogAsync(after, LogPage, cancellationToken)).Where(e => e.Position <= until).ToList();
            if (page.Count == 0) break;
            await StoreAsync(page, cancellationToken);
            queued += page.Count;
            after = page[^1].Position;
        }
        return queued;
    }

    private async Task StoreAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var subscriptions = await webhooks.EnabledSubscriptionsAsync(cancellationToken);
        var callbacks = await CallbacksAsync(batch, cancellationToken);
        var position = batch[^1].Position;
        if (subscriptions.Count == 0 && callbacks.Count == 0)
        {
            if (time.GetUtcNow() - _checkpointStoredAt < CheckpointInterval) (_checkpoint, _checkpointPending) = (position, true);
            else await StoreCheckpointAsync([], position, cancellationToken);
            return;
        }
        var scopes = keys.CurrentValue.ApiKeys.ToDictionary(k => k.Name, k => new AddressScope(k.Scopes), StringComparer.Ordinal);
        var deliveries = new List<NewDelivery>();
        foreach (var e in batch.Select(stored => stored.Event))
        {
            string? payload = null;
            foreach (var subscription in subscriptions)
            {
                if (!Matches(subscription, e, scopes.GetValueOrDefault(subscription.Owner))) continue;
                payload ??= JsonSerializer.Serialize(new WebhookPayload(e.Type, e.OccurredAt, e), _json);
                deliveries.Add(new NewDelivery(subscription.Id, e, payload));
            }
            if (callbacks.TryGetValue(e.Call.Id, out var callback) && MatchesCallback(callback, e, scopes.GetValueOrDefault(callback.Owner)))
            {
                payload ??= JsonSerializer.Serialize(new WebhookPayload(e.Type, e.OccurredAt, e), _json);
                deliveries.Add(new NewDelivery(callback.Id, e, payload));
            }
        }
        await StoreCheckpointAsync(deliveries, position, cancellationToken);
        if (deliveries.Count > 0) dispatcher.Wake();
    }

    /// <summary>The status callbacks of the batch's calls that name one, by call id; those not stored yet are created
    /// from the stored call (which knows the API key that placed it).</summary>
    private async Task<Dictionary<string, StoredSubscription>> CallbacksAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var callIds = batch.Where(stored => stored.Event.Call.StatusCallback is not null).Select(stored => stored.Event.Call.Id)
            .Distinct(StringComparer.Ordinal).ToList();
        if (callIds.Count == 0) return new Dictionary<string, StoredSubscription>(StringComparer.Ordinal);
        var found = (await webhooks.CallCallbacksAsync(callIds, cancellationToken)).ToDictionary(c => c.CallId!, StringComparer.Ordinal);
        var log = _log ?? throw new InvalidOperationException("The writer has not been started.");
        foreach (var callId in callIds.Where(id => !found.ContainsKey(id)))
        {
            if (await log.GetAsync(callId, cancellationToken) is not { StatusCallback: { } named, Owner: { } owner })
            {
                logger.LogWarning("Call {CallId} names a status callback but its record is gone: its events are not sent there", callId);
                continue;
            }
            found[callId] = await webhooks.EnsureCallCallbackAsync(owner, callId, named.Url, named.Events, cancellationToken);
        }
        return found;
    }

    /// <summary>On the way out: the checkpoint a quiet batch moved in memory only is stored, so the next process does
    /// not read those events again.</summary>
    private async Task StorePendingCheckpointAsync()
    {
        // A write stuck retrying against a failing store must not hold shutdown: its events are read again next start.
        if (!await _writing.WaitAsync(TimeSpan.FromSeconds(5))) return;
        try
        {
            if (!_checkpointPending || _checkpoint is not { } position || !leadership.IsLeader) return;
            await StoreCheckpointAsync([], position, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The webhook checkpoint could not be stored on the way out; the next start reads the last second of events again");
        }
        finally
        {
            _writing.Release();
        }
    }

    private void Recovered()
    {
        if (_lastError is null) return;
        logger.LogInformation("Webhook events are stored again");
        _lastError = null;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Once: the container disposes it as the writer and again as an <see cref="ICallEventConsumer"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stopping.CancelAsync();
        await _terms;
        await StorePendingCheckpointAsync();
        _stopping.Dispose();
        _writing.Dispose();
    }
}
