using Gateway.Api.Calls.Store;
using Microsoft.Data.Sqlite;
using static Gateway.Api.Webhooks.WebhookStoreFormat;

namespace Gateway.Api.Webhooks;

/// <summary>The delivery queue of <see cref="SqliteWebhookStore"/>: enqueue, the heads the dispatcher sends, attempts,
/// re-delivery, the delivery log and its purge.</summary>
public sealed partial class SqliteWebhookStore
{
    // ---- the queue -------------------------------------------------------------------------------------------------

    /// <summary>One transaction; a delivery is inserted only while its subscription exists and holds no delivery of the
    /// event yet (re-deliveries aside). The writer chose the enabled subscriptions before this runs: one disabled meanwhile
    /// (its endpoint answered 410 while the batch was on its way) gets the delivery as failed, as its pending ones were
    /// failed when it was disabled, not a pending delivery nothing would ever send.</summary>
    public async Task EnqueueAsync(IReadOnlyList<NewDelivery> deliveries, CallLogHead checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var now = Ms(_time.GetUtcNow());
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        if (deliveries.Count > 0)
        {
            await using var command = Command(connection, transaction,
                $"""
                INSERT INTO deliveries ({DeliveryColumns}, payload)
                SELECT $id, $sub, $msg, $event, $type, $call, CASE s.state WHEN 'disabled' THEN 'failed' ELSE 'pending' END, 0, NULL, NULL,
                       CASE s.state WHEN 'disabled' THEN {NotSentDisabledSql} END, CASE s.state WHEN 'disabled' THEN NULL ELSE $now END, $now,
                       CASE s.state WHEN 'disabled' THEN $now END, NULL, $payload
                FROM subscriptions s
                WHERE s.id = $sub
                  AND NOT EXISTS (SELECT 1 FROM deliveries WHERE subscription_id = $sub AND event_id = $event AND redelivery_of IS NULL);
                """,
                ("$id", ""), ("$sub", ""), ("$msg", ""), ("$event", ""), ("$type", ""), ("$call", ""), ("$now", now), ("$payload", ""));
            foreach (var delivery in deliveries)
            {
                command.Parameters["$id"].Value = NewId("dlv_");
                command.Parameters["$sub"].Value = delivery.SubscriptionId;
                command.Parameters["$msg"].Value = NewId("msg_");
                command.Parameters["$event"].Value = delivery.Event.Id;
                command.Parameters["$type"].Value = delivery.Event.Type;
                command.Parameters["$call"].Value = delivery.Event.Call.Id;
                command.Parameters["$payload"].Value = delivery.Payload;
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await using (var mark = Command(connection, transaction,
                         "INSERT INTO event_checkpoint (id, epoch, position) VALUES (1, $epoch, $position) " +
                         "ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, position = excluded.position " +
                         "WHERE epoch <> excluded.epoch OR position < excluded.position;",
                         ("$epoch", checkpoint.Epoch), ("$position", checkpoint.Position)))
        {
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<CallLogHead?> CheckpointAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT epoch, position FROM event_checkpoint WHERE id = 1;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new CallLogHead(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    public async Task<IReadOnlyList<QueuedDelivery>> QueueHeadsAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            """
            SELECT d.id, d.subscription_id, d.message_id, d.event_type, d.payload, d.attempts, d.next_attempt_at, s.url,
                   CASE WHEN s.call_id IS NULL THEN s.secret ELSE c.secret END,
                   CASE WHEN s.call_id IS NULL THEN s.previous_secret ELSE c.previous_secret END,
                   CASE WHEN s.call_id IS NULL THEN s.previous_secret_expires_at ELSE c.previous_secret_expires_at END
            FROM (SELECT MIN(seq) AS seq FROM deliveries WHERE state = 'pending' GROUP BY subscription_id) AS heads
            JOIN deliveries d ON d.seq = heads.seq
            JOIN subscriptions s ON s.id = d.subscription_id AND s.state = 'enabled'
            LEFT JOIN callback_secrets c ON s.call_id IS NOT NULL AND c.owner = s.owner
            WHERE s.call_id IS NULL OR c.secret IS NOT NULL
            ORDER BY d.next_attempt_at, d.seq;
            """);
        var heads = new List<QueuedDelivery>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var previousExpires = NullableTime(reader, 10);
            heads.Add(new QueuedDelivery(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetInt32(5), Time(reader.GetInt64(6)), reader.GetString(7), (byte[])reader[8],
                previousExpires > now && !reader.IsDBNull(9) ? (byte[])reader[9] : null));
        }
        return heads;
    }

    public async Task<bool> RecordAttemptAsync(AttemptRecord attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var at = Ms(attempt.At);
        await using (var update = Command(connection, transaction,
                         """
                         UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = $at, last_status = $status, last_error = $error,
                                state = $state, next_attempt_at = $next, completed_at = CASE WHEN $state = 'pending' THEN NULL ELSE $at END
                         WHERE id = $id AND state = 'pending';
                         """,
                         ("$at", at), ("$status", attempt.StatusCode), ("$error", attempt.Error), ("$state", StateText(attempt.State)),
                         ("$next", attempt.NextAttemptAt is { } next ? Ms(next) : null), ("$id", attempt.DeliveryId)))
        {
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0) return false;
        }
        if (attempt.DisableReason is { } reason)
        {
            await using var disable = Command(connection, transaction,
                """
                UPDATE subscriptions SET state = 'disabled', disabled_reason = $reason
                WHERE id = (SELECT subscription_id FROM deliveries WHERE id = $id);
                UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, completed_at = $at, last_error = $pendingError
                WHERE subscription_id = (SELECT subscription_id FROM deliveries WHERE id = $id) AND state = 'pending';
                """,
                ("$reason", reason), ("$id", attempt.DeliveryId), ("$at", at), ("$pendingError", NotSentDisabled(reason)));
            await disable.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<(RedeliveryOutcome Outcome, WebhookDelivery? Delivery)> RedeliverAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken)
    {
        var now = Ms(_time.GetUtcNow());
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        string state;
        long seq;
        await using (var find = Command(connection, transaction,
                         "SELECT d.state, d.seq, s.state FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $id AND d.subscription_id = $sub;",
                         ("$id", deliveryId), ("$sub", subscriptionId)))
        await using (var reader = await find.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken)) return (RedeliveryOutcome.NotFound, null);
            if (reader.GetString(2) != "enabled") return (RedeliveryOutcome.SubscriptionDisabled, null);
            state = reader.GetString(0);
            seq = reader.GetInt64(1);
        }
        RedeliveryOutcome outcome;
        string carrier;
        if (state == "pending")
        {
            await using var due = Command(connection, transaction,
                "UPDATE deliveries SET next_attempt_at = MIN(next_attempt_at, $now) WHERE subscription_id = $sub AND state = 'pending' AND seq <= $seq;",
                ("$now", now), ("$sub", subscriptionId), ("$seq", seq));
            await due.ExecuteNonQueryAsync(cancellationToken);
            (outcome, carrier) = (RedeliveryOutcome.Rescheduled, deliveryId);
        }
        else
        {
            carrier = NewId("dlv_");
            await using var copy = Command(connection, transaction,
                $"""
                INSERT INTO deliveries ({DeliveryColumns}, payload)
                SELECT $new, subscription_id, message_id, event_id, event_type, call_id, 'pending', 0, NULL, NULL, NULL, $now, $now, NULL, id, payload
                FROM deliveries WHERE id = $id;
                """,
                ("$new", carrier), ("$now", now), ("$id", deliveryId));
            await copy.ExecuteNonQueryAsync(cancellationToken);
            outcome = RedeliveryOutcome.Enqueued;
        }
        await transaction.CommitAsync(cancellationToken);
        return (outcome, await ReadDeliveryAsync(connection, subscriptionId, carrier, cancellationToken));
    }

    public async Task<(IReadOnlyList<WebhookDelivery> Items, long? Next)> ListDeliveriesAsync(
        string subscriptionId, DeliveryState? state, long before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"""
            SELECT {DeliveryColumns}, seq FROM deliveries
            WHERE subscription_id = $sub AND ($state IS NULL OR state = $state) AND ($before = 0 OR seq < $before)
            ORDER BY seq DESC LIMIT $limit;
            """,
            ("$sub", subscriptionId), ("$state", state is { } s ? StateText(s) : null), ("$before", before), ("$limit", limit + 1));
        var items = new List<WebhookDelivery>();
        long? next = null;
        long lastSeq = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (items.Count == limit)
            {
                next = lastSeq;
                break;
            }
            items.Add(ReadDelivery(reader));
            lastSeq = reader.GetInt64(15);
        }
        return (items, next);
    }

    public async Task<WebhookDelivery?> GetDeliveryAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadDeliveryAsync(connection, subscriptionId, deliveryId, cancellationToken);
    }

    public async Task<int> PurgeCompletedAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "DELETE FROM deliveries WHERE completed_at IS NOT NULL AND completed_at < $before;", ("$before", Ms(before)));
        var purged = await command.ExecuteNonQueryAsync(cancellationToken);
        await using var callbacks = Command(connection, null,
            "DELETE FROM subscriptions WHERE call_id IS NOT NULL AND created_at < $before AND NOT EXISTS (SELECT 1 FROM deliveries WHERE subscription_id = subscriptions.id);",
            ("$before", Ms(before)));
        await callbacks.ExecuteNonQueryAsync(cancellationToken);
        return purged;
    }

    public async Task<(long Pending, DateTimeOffset? OldestCreatedAt)> PendingSummaryAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE state = 'pending';");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), NullableTime(reader, 1));
    }

    public void Dispose() => _initGate.Dispose();
}
