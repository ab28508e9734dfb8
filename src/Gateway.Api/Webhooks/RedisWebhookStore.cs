using System.Globalization;
using Gateway.Api.Calls.Store;
using Gateway.Api.Replicas;
using StackExchange.Redis;
using static Gateway.Api.Webhooks.WebhookStoreFormat;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Subscriptions and the delivery queue in Redis, shared by every replica: any replica serves the API, the leader queues
/// and sends, and a new leader finds the queue, its retry times and the checkpoint where the last one left them. Keys
/// are laid out in <see cref="RedisWebhookKeys"/>; every multi-key change is one Lua script
/// (<see cref="RedisWebhookScripts"/>), so it is atomic. Durability is Redis's own (the README asks for an append-only
/// file with fsync always).
/// </summary>
public sealed class RedisWebhookStore : IWebhookStore
{
    private const int PurgeBatch = 500;
    private const int LogChunk = 100;

    private readonly RedisConnection _redis;
    private readonly RedisWebhookKeys _keys;
    private readonly TimeProvider _time;

    public RedisWebhookStore(RedisConnection redis, TimeProvider time)
    {
        _redis = redis;
        _keys = new RedisWebhookKeys(redis);
        _time = time;
    }

    public string Location => "redis " + (string?)_keys.Base;

    /// <summary>Re-deliveries asked of another replica reach the leader's dispatcher within this long.</summary>
    public TimeSpan? PollInterval => TimeSpan.FromSeconds(1);

    /// <summary>Nothing to prepare: a replica starts while Redis is down and the connection comes up by itself.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // ---- subscriptions ---------------------------------------------------------------------------------------------

    public async Task<StoredSubscription> CreateSubscriptionAsync(
        string owner, string url, IReadOnlyList<string>? eventTypes, string? address, string? description, byte[] key, CancellationToken cancellationToken)
    {
        var subscription = new StoredSubscription(NewId("wh_"), owner, url, eventTypes, address, description, key, null, null,
            WebhookState.Enabled, null, Truncate(_time.GetUtcNow()));
        var fields = new List<HashEntry>
        {
            new("id", subscription.Id), new("owner", owner), new("url", url), new("secret", key), new("state", "enabled"),
            new("created_at", Ms(subscription.CreatedAt)),
        };
        if (eventTypes is not null) fields.Add(new HashEntry("event_types", string.Join(' ', eventTypes)));
        if (address is not null) fields.Add(new HashEntry("address", address));
        if (description is not null) fields.Add(new HashEntry("description", description));
        var transaction = (await DatabaseAsync(cancellationToken)).CreateTransaction();
        var writes = new Task[]
        {
            transaction.HashSetAsync(_keys.Subscription(subscription.Id), [.. fields]),
            transaction.SortedSetAddAsync(_keys.Subscriptions, subscription.Id, Ms(subscription.CreatedAt)),
            transaction.SortedSetAddAsync(_keys.Owner(owner), subscription.Id, Ms(subscription.CreatedAt)),
        };
        if (!await transaction.ExecuteAsync()) throw new RedisException("The subscription could not be written.");
        await Task.WhenAll(writes);
        return subscription;
    }

    public async Task<int> CountSubscriptionsAsync(string owner, CancellationToken cancellationToken) =>
        (int)await (await DatabaseAsync(cancellationToken)).SortedSetLengthAsync(_keys.Owner(owner));

    public Task<IReadOnlyList<StoredSubscription>> ListSubscriptionsAsync(string owner, CancellationToken cancellationToken) =>
        SubscriptionsInAsync(_keys.Owner(owner), cancellationToken);

    public async Task<IReadOnlyList<StoredSubscription>> EnabledSubscriptionsAsync(CancellationToken cancellationToken) =>
        [.. (await SubscriptionsInAsync(_keys.Subscriptions, cancellationToken)).Where(s => s.State == WebhookState.Enabled)];

    public async Task<StoredSubscription?> GetSubscriptionAsync(string owner, string id, CancellationToken cancellationToken)
    {
        var subscription = RedisWebhookRecords.Subscription(await (await DatabaseAsync(cancellationToken)).HashGetAllAsync(_keys.Subscription(id)));
        return subscription?.Owner == owner && subscription.CallId is null ? subscription : null;
    }

    public async Task<bool> DeleteSubscriptionAsync(string owner, string id, CancellationToken cancellationToken) =>
        (long)await RunAsync(RedisWebhookScripts.DeleteSubscription, cancellationToken, id, owner) == 1;

    public async Task<StoredSubscription?> RotateKeyAsync(string owner, string id, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken)
    {
        if ((long)await RunAsync(RedisWebhookScripts.RotateKey, cancellationToken, id, owner, key, Ms(previousKeyExpiresAt)) == 0) return null;
        return await GetSubscriptionAsync(owner, id, cancellationToken);
    }

    // ---- per-call status callbacks -----------------------------------------------------------------------------------

    /// <summary>Written only if the key is absent, so the first writer's callback stays.</summary>
    public async Task<StoredSubscription> EnsureCallCallbackAsync(
        string owner, string callId, string url, IReadOnlyList<string>? eventTypes, CancellationToken cancellationToken)
    {
        var id = CallbackId(callId);
        var created = Ms(_time.GetUtcNow());
        var fields = new List<HashEntry>
        {
            new("id", id), new("owner", owner), new("url", url), new("secret", Array.Empty<byte>()), new("state", "enabled"),
            new("created_at", created), new("call_id", callId),
        };
        if (eventTypes is not null) fields.Add(new HashEntry("event_types", string.Join(' ', eventTypes)));
        var db = await DatabaseAsync(cancellationToken);
        var transaction = db.CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists(_keys.Subscription(id)));
        _ = transaction.HashSetAsync(_keys.Subscription(id), [.. fields]);
        _ = transaction.SortedSetAddAsync(_keys.Callbacks, id, created);
        await transaction.ExecuteAsync();
        return RedisWebhookRecords.Subscription(await db.HashGetAllAsync(_keys.Subscription(id)))
               ?? throw new RedisException($"The status callback of call {callId} could not be written.");
    }

    public async Task<IReadOnlyList<StoredSubscription>> CallCallbacksAsync(IReadOnlyCollection<string> callIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callIds);
        var db = await DatabaseAsync(cancellationToken);
        var hashes = await Task.WhenAll(callIds.Select(callId => db.HashGetAllAsync(_keys.Subscription(CallbackId(callId)))));
        return [.. hashes.Select(RedisWebhookRecords.Subscription).OfType<StoredSubscription>().Where(s => s.CallId is not null)];
    }

    public async Task<StoredCallbackSecret?> CallbackSecretAsync(string owner, CancellationToken cancellationToken) =>
        RedisWebhookRecords.CallbackSecret(owner, await (await DatabaseAsync(cancellationToken)).HashGetAllAsync(_keys.CallbackSecret(owner)));

    public async Task<StoredCallbackSecret> SetCallbackSecretAsync(string owner, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken)
    {
        await RunAsync(RedisWebhookScripts.SetCallbackSecret, cancellationToken, owner, key, Ms(_time.GetUtcNow()), Ms(previousKeyExpiresAt));
        return (await CallbackSecretAsync(owner, cancellationToken))!;
    }

    // ---- the queue -------------------------------------------------------------------------------------------------

    public async Task EnqueueAsync(IReadOnlyList<NewDelivery> deliveries, CallLogHead checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var arguments = new List<RedisValue>(4 + deliveries.Count * 7) { Ms(_time.GetUtcNow()), checkpoint.Epoch, checkpoint.Position, NotSentDisabledPrefix };
        foreach (var d in deliveries)
            arguments.AddRange([NewId("dlv_"), d.SubscriptionId, NewId("msg_"), d.Event.Id, d.Event.Type, d.Event.Call.Id, d.Payload]);
        await RunAsync(RedisWebhookScripts.Enqueue, cancellationToken, [.. arguments]);
    }

    public async Task<CallLogHead?> CheckpointAsync(CancellationToken cancellationToken)
    {
        var fields = await (await DatabaseAsync(cancellationToken)).HashGetAsync(_keys.Checkpoint, ["epoch", "position"]);
        return fields[0].IsNull ? null : new CallLogHead(fields[0].ToString(), (long)fields[1]);
    }

    public async Task<IReadOnlyList<QueuedDelivery>> QueueHeadsAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var heads = (RedisResult[])(await RunAsync(RedisWebhookScripts.QueueHeads, cancellationToken))!;
        return [.. heads.Select(head => RedisWebhookRecords.QueuedDelivery((RedisValue[])head!, now))];
    }

    public async Task<bool> RecordAttemptAsync(AttemptRecord attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var pendingError = attempt.DisableReason is { } reason ? NotSentDisabled(reason) : "";
        // Recorded even when the caller is cancelled: the attempt was made, and its outcome decides what comes next.
        return (long)await RunAsync(RedisWebhookScripts.RecordAttempt, CancellationToken.None,
            attempt.DeliveryId, Ms(attempt.At), attempt.StatusCode?.ToString(CultureInfo.InvariantCulture) ?? "", attempt.Error ?? "",
            StateText(attempt.State), attempt.NextAttemptAt is { } next ? Ms(next) : "", attempt.DisableReason ?? "", pendingError) == 1;
    }

    public async Task<(RedeliveryOutcome Outcome, WebhookDelivery? Delivery)> RedeliverAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken)
    {
        var result = (RedisValue[])(await RunAsync(RedisWebhookScripts.Redeliver, cancellationToken,
            subscriptionId, deliveryId, Ms(_time.GetUtcNow()), NewId("dlv_")))!;
        var outcome = result[0].ToString() switch
        {
            "not-found" => RedeliveryOutcome.NotFound,
            "disabled" => RedeliveryOutcome.SubscriptionDisabled,
            "rescheduled" => RedeliveryOutcome.Rescheduled,
            _ => RedeliveryOutcome.Enqueued,
        };
        return result.Length == 1 ? (outcome, null) : (outcome, await GetDeliveryAsync(subscriptionId, result[1].ToString(), cancellationToken));
    }

    /// <summary>Walks the subscription's log from newest to oldest in chunks, keeping the deliveries in
    /// <paramref name="state"/>, until a page and one more are found.</summary>
    public async Task<(IReadOnlyList<WebhookDelivery> Items, long? Next)> ListDeliveriesAsync(
        string subscriptionId, DeliveryState? state, long before, int limit, CancellationToken cancellationToken)
    {
        var db = await DatabaseAsync(cancellationToken);
        var found = new List<(WebhookDelivery Delivery, long Seq)>();
        var below = before == 0 ? double.PositiveInfinity : before;
        while (found.Count <= limit)
        {
            var chunk = await db.SortedSetRangeByScoreWithScoresAsync(_keys.Log(subscriptionId), below, double.NegativeInfinity,
                Exclude.Start, Order.Descending, 0, state is null ? limit + 1 - found.Count : LogChunk);
            if (chunk.Length == 0) break;
            var hashes = await Task.WhenAll(chunk.Select(entry => db.HashGetAllAsync(_keys.Delivery(entry.Element.ToString()))));
            for (var i = 0; i < chunk.Length && found.Count <= limit; i++)
                if (RedisWebhookRecords.Delivery(hashes[i]) is { } delivery && (state is null || delivery.State == state))
                    found.Add((delivery, (long)chunk[i].Score));
            below = chunk[^1].Score;
        }
        return found.Count > limit
            ? ([.. found.Take(limit).Select(f => f.Delivery)], found[limit - 1].Seq)
            : ([.. found.Select(f => f.Delivery)], null);
    }

    public async Task<WebhookDelivery?> GetDeliveryAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken)
    {
        var delivery = RedisWebhookRecords.Delivery(await (await DatabaseAsync(cancellationToken)).HashGetAllAsync(_keys.Delivery(deliveryId)));
        return delivery?.WebhookId == subscriptionId ? delivery : null;
    }

    /// <summary>In batches, so no one script holds Redis for long.</summary>
    public async Task<int> PurgeCompletedAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var purged = 0;
        while (true)
        {
            var batch = (int)(long)await RunAsync(RedisWebhookScripts.Purge, cancellationToken, Ms(before), PurgeBatch);
            purged += batch;
            if (batch < PurgeBatch) return purged;
        }
    }

    public async Task<(long Pending, DateTimeOffset? OldestCreatedAt)> PendingSummaryAsync(CancellationToken cancellationToken)
    {
        var db = await DatabaseAsync(cancellationToken);
        var count = db.SortedSetLengthAsync(_keys.Pending);
        var oldest = db.SortedSetRangeByRankWithScoresAsync(_keys.Pending, 0, 0);
        return (await count, (await oldest) is [var first] ? Time((long)first.Score) : null);
    }

    // ---- plumbing --------------------------------------------------------------------------------------------------

    private async Task<IReadOnlyList<StoredSubscription>> SubscriptionsInAsync(RedisKey index, CancellationToken cancellationToken)
    {
        var db = await DatabaseAsync(cancellationToken);
        var ids = await db.SortedSetRangeByRankAsync(index);
        var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(_keys.Subscription(id.ToString()))));
        // A subscription deleted between the two reads is left out.
        return [.. hashes.Select(RedisWebhookRecords.Subscription).OfType<StoredSubscription>()];
    }

    private async Task<RedisResult> RunAsync(string script, CancellationToken cancellationToken, params RedisValue[] arguments) =>
        await (await DatabaseAsync(cancellationToken)).ScriptEvaluateAsync(script, [_keys.Base], arguments);

    /// <summary>StackExchange.Redis takes no token per command (its own timeouts apply): a cancelled caller stops here.</summary>
    private async Task<IDatabase> DatabaseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await _redis.DatabaseAsync().WaitAsync(cancellationToken);
    }
}
