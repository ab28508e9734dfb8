using System.Data.Common;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Store;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using static Gateway.Api.Webhooks.WebhookStoreFormat;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Subscriptions and the delivery queue in one SQLite file (WAL, synchronous=FULL, so a committed row survives a crash),
/// for one gateway process. The schema is created or migrated on first use (<see cref="SqliteWebhookSchema"/>). The queue
/// is ordered by an autoincrement <c>seq</c>: a subscription's head is its pending delivery with the lowest one. Times
/// are unix milliseconds.
/// </summary>
public sealed class SqliteWebhookStore : IWebhookStore, IDisposable
{
    private const string DeliveryColumns =
        "id, subscription_id, message_id, event_id, event_type, call_id, state, attempts, last_attempt_at, last_status, last_error, " +
        "next_attempt_at, created_at, completed_at, redelivery_of";

    private const string SubscriptionColumns =
        "id, owner, url, event_types, address, description, secret, previous_secret, previous_secret_expires_at, state, disabled_reason, created_at, call_id";

    private readonly string _connectionString;
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger<SqliteWebhookStore> _logger;
    private readonly SemaphoreSlim _initGate = new(1, 1);
    private volatile bool _initialized;

    public SqliteWebhookStore(IOptions<WebhookOptions> options, TimeProvider time, ILogger<SqliteWebhookStore> logger)
    {
        _path = options.Value.DatabasePath;
        _time = time;
        _logger = logger;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            ForeignKeys = true,
            // Seconds a statement waits for another connection's write lock before failing.
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string Path => _path;

    public string Location => _path;

    public TimeSpan? PollInterval => null;

    /// <summary>Opens the file (creating its folder), switches it to WAL and brings the schema up to date. Idempotent.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_initialized) return;
        await _initGate.WaitAsync(cancellationToken);
        try
        {
            if (_initialized) return;
            if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_path)) is { } folder) Directory.CreateDirectory(folder);
            await using var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
            await SqliteWebhookSchema.MigrateAsync(connection, _path, _logger, cancellationToken);
            _initialized = true;
        }
        finally
        {
            _initGate.Release();
        }
    }

    // ---- subscriptions ---------------------------------------------------------------------------------------------

    public async Task<StoredSubscription> CreateSubscriptionAsync(
        string owner, string url, IReadOnlyList<string>? eventTypes, string? address, string? description, byte[] key, CancellationToken cancellationToken)
    {
        var subscription = new StoredSubscription(NewId("wh_"), owner, url, eventTypes, address, description, key, null, null,
            WebhookState.Enabled, null, Truncate(_time.GetUtcNow()));
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"INSERT INTO subscriptions ({SubscriptionColumns}) VALUES ($id, $owner, $url, $types, $address, $description, $secret, NULL, NULL, 'enabled', NULL, $created, NULL);",
            ("$id", subscription.Id), ("$owner", owner), ("$url", url), ("$types", eventTypes is null ? null : string.Join(' ', eventTypes)),
            ("$address", address), ("$description", description), ("$secret", key), ("$created", Ms(subscription.CreatedAt)));
        await command.ExecuteNonQueryAsync(cancellationToken);
        return subscription;
    }

    public async Task<int> CountSubscriptionsAsync(string owner, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return Convert.ToInt32(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM subscriptions WHERE owner = $owner AND call_id IS NULL;", cancellationToken, ("$owner", owner)),
            System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<IReadOnlyList<StoredSubscription>> ListSubscriptionsAsync(string owner, CancellationToken cancellationToken) =>
        QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE owner = $owner AND call_id IS NULL ORDER BY created_at, id;", cancellationToken, ("$owner", owner));

    public Task<IReadOnlyList<StoredSubscription>> EnabledSubscriptionsAsync(CancellationToken cancellationToken) =>
        QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE state = 'enabled' AND call_id IS NULL ORDER BY created_at, id;", cancellationToken);

    public async Task<StoredSubscription?> GetSubscriptionAsync(string owner, string id, CancellationToken cancellationToken) =>
        (await QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE id = $id AND owner = $owner AND call_id IS NULL;", cancellationToken,
            ("$id", id), ("$owner", owner))) is [var found, ..] ? found : null;

    public async Task<bool> DeleteSubscriptionAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "DELETE FROM subscriptions WHERE id = $id AND owner = $owner AND call_id IS NULL;", ("$id", id), ("$owner", owner));
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<StoredSubscription?> RotateKeyAsync(string owner, string id, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "UPDATE subscriptions SET previous_secret = secret, previous_secret_expires_at = $expires, secret = $secret WHERE id = $id AND owner = $owner AND call_id IS NULL;",
            ("$expires", Ms(previousKeyExpiresAt)), ("$secret", key), ("$id", id), ("$owner", owner));
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0) return null;
        return await GetSubscriptionAsync(owner, id, cancellationToken);
    }

    // ---- per-call status callbacks -----------------------------------------------------------------------------------

    public async Task<StoredSubscription> EnsureCallCallbackAsync(
        string owner, string callId, string url, IReadOnlyList<string>? eventTypes, CancellationToken cancellationToken)
    {
        var id = CallbackId(callId);
        await using (var connection = await OpenAsync(cancellationToken))
        await using (var command = Command(connection, null,
                         $"INSERT INTO subscriptions ({SubscriptionColumns}) VALUES ($id, $owner, $url, $types, NULL, NULL, x'', NULL, NULL, 'enabled', NULL, $created, $call) " +
                         "ON CONFLICT (id) DO NOTHING;",
                         ("$id", id), ("$owner", owner), ("$url", url), ("$types", eventTypes is null ? null : string.Join(' ', eventTypes)),
                         ("$created", Ms(_time.GetUtcNow())), ("$call", callId)))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        return (await CallCallbacksAsync([callId], cancellationToken))[0];
    }

    public async Task<IReadOnlyList<StoredSubscription>> CallCallbacksAsync(IReadOnlyCollection<string> callIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callIds);
        if (callIds.Count == 0) return [];
        var names = callIds.Select((_, i) => "$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return await QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE id IN ({string.Join(", ", names)}) AND call_id IS NOT NULL;",
            cancellationToken, [.. callIds.Select((callId, i) => (names[i], (object?)CallbackId(callId)))]);
    }

    public async Task<StoredCallbackSecret?> CallbackSecretAsync(string owner, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT secret, previous_secret, previous_secret_expires_at, created_at FROM callback_secrets WHERE owner = $owner;", ("$owner", owner));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new StoredCallbackSecret(owner, (byte[])reader[0], reader.IsDBNull(1) ? null : (byte[])reader[1], NullableTime(reader, 2), Time(reader.GetInt64(3)))
            : null;
    }

    public async Task<StoredCallbackSecret> SetCallbackSecretAsync(string owner, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken)
    {
        await using (var connection = await OpenAsync(cancellationToken))
        await using (var command = Command(connection, null,
                         """
                         INSERT INTO callback_secrets (owner, secret, previous_secret, previous_secret_expires_at, created_at)
                         VALUES ($owner, $secret, NULL, NULL, $now)
                         ON CONFLICT (owner) DO UPDATE SET previous_secret = secret, previous_secret_expires_at = $expires, secret = excluded.secret, created_at = excluded.created_at;
                         """,
                         ("$owner", owner), ("$secret", key), ("$now", Ms(_time.GetUtcNow())), ("$expires", Ms(previousKeyExpiresAt))))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        return (await CallbackSecretAsync(owner, cancellationToken))!;
    }

    // ---- the queue -------------------------------------------------------------------------------------------------

    /// <summary>One transaction; a delivery is inserted only while its subscription exists and holds no delivery of the
    /// event yet (re-deliveries aside).</summary>
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
                SELECT $id, $sub, $msg, $event, $type, $call, 'pending', 0, NULL, NULL, NULL, $now, $now, NULL, NULL, $payload
                WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = $sub)
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
                ("$reason", reason), ("$id", attempt.DeliveryId), ("$at", at), ("$pendingError", "not sent: the subscription was disabled (" + reason + ")"));
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

    // ---- plumbing --------------------------------------------------------------------------------------------------

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // A per-connection setting: in WAL mode FULL syncs every commit, so a committed delivery survives power loss too.
            await ExecuteAsync(connection, null, "PRAGMA synchronous = FULL;", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task<IReadOnlyList<StoredSubscription>> QuerySubscriptionsAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<StoredSubscription>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new StoredSubscription(
                reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3).Split(' ', StringSplitOptions.RemoveEmptyEntries),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                (byte[])reader[6], reader.IsDBNull(7) ? null : (byte[])reader[7], NullableTime(reader, 8),
                reader.GetString(9) == "enabled" ? WebhookState.Enabled : WebhookState.Disabled,
                reader.IsDBNull(10) ? null : reader.GetString(10), Time(reader.GetInt64(11)), reader.IsDBNull(12) ? null : reader.GetString(12)));
        }
        return list;
    }

    private static async Task<WebhookDelivery?> ReadDeliveryAsync(SqliteConnection connection, string subscriptionId, string deliveryId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, $"SELECT {DeliveryColumns} FROM deliveries WHERE id = $id AND subscription_id = $sub;",
            ("$id", deliveryId), ("$sub", subscriptionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadDelivery(reader) : null;
    }

    private static WebhookDelivery ReadDelivery(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        WebhookId = reader.GetString(1),
        MessageId = reader.GetString(2),
        EventId = reader.GetString(3),
        EventType = reader.GetString(4),
        CallId = reader.GetString(5),
        State = ParseState(reader.GetString(6)),
        Attempts = reader.GetInt32(7),
        LastAttemptAt = NullableTime(reader, 8),
        LastStatusCode = reader.IsDBNull(9) ? null : reader.GetInt32(9),
        LastError = reader.IsDBNull(10) ? null : reader.GetString(10),
        NextAttemptAt = NullableTime(reader, 11),
        CreatedAt = Time(reader.GetInt64(12)),
        CompletedAt = NullableTime(reader, 13),
        RedeliveryOf = reader.IsDBNull(14) ? null : reader.GetString(14),
    };

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    internal static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));
}
