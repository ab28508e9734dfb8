using System.Data.Common;
using System.Security.Cryptography;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Store;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>A subscription as stored: with its owner (the API key's name) and signing keys.</summary>
public sealed record StoredSubscription(
    string Id, string Owner, string Url, IReadOnlyList<string>? EventTypes, string? Address, string? Description,
    byte[] Key, byte[]? PreviousKey, DateTimeOffset? PreviousKeyExpiresAt, WebhookState State, string? DisabledReason, DateTimeOffset CreatedAt)
{
    public WebhookSubscription ToResource(DateTimeOffset now) => new()
    {
        Id = Id,
        Url = Url,
        EventTypes = EventTypes,
        Address = Address,
        Description = Description,
        State = State,
        DisabledReason = DisabledReason,
        CreatedAt = CreatedAt,
        PreviousSecretExpiresAt = PreviousKeyExpiresAt > now ? PreviousKeyExpiresAt : null,
    };

    public WebhookSubscriptionWithSecret ToResourceWithSecret(DateTimeOffset now) => new(ToResource(now), WebhookSignature.FormatSecret(Key));
}

/// <summary>An event to enqueue for a subscription; <see cref="Payload"/> is the exact body every attempt sends.</summary>
public sealed record NewDelivery(string SubscriptionId, CallEvent Event, string Payload);

/// <summary>The next delivery of a subscription (the head of its queue), with what an attempt needs.</summary>
public sealed record QueuedDelivery(
    string Id, string SubscriptionId, string MessageId, string EventType, string Payload, int Attempts, DateTimeOffset NextAttemptAt,
    string Url, byte[] Key, byte[]? PreviousKey);

/// <summary>What one attempt came to: the delivery's new state (and next attempt), and whether its subscription is to be disabled.</summary>
public sealed record AttemptRecord(
    string DeliveryId, DateTimeOffset At, int? StatusCode, string? Error, DeliveryState State, DateTimeOffset? NextAttemptAt, string? DisableReason);

/// <summary>What <see cref="WebhookStore.RedeliverAsync"/> did.</summary>
public enum RedeliveryOutcome { NotFound, SubscriptionDisabled, Rescheduled, Enqueued }

/// <summary>
/// Subscriptions and the delivery queue in one SQLite file (WAL, synchronous=FULL, so a committed row survives a crash).
/// The schema is created or migrated on first use (<c>PRAGMA user_version</c>). The queue is ordered by an
/// autoincrement <c>seq</c>: a subscription's head is its pending delivery with the lowest one. Times are unix milliseconds.
/// </summary>
public sealed class WebhookStore : IDisposable
{
    private const int SchemaVersion = 2;
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            url TEXT NOT NULL,
            event_types TEXT NULL,
            address TEXT NULL,
            description TEXT NULL,
            secret BLOB NOT NULL,
            previous_secret BLOB NULL,
            previous_secret_expires_at INTEGER NULL,
            state TEXT NOT NULL,
            disabled_reason TEXT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX subscriptions_by_owner ON subscriptions (owner, created_at);
        CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            message_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            call_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            redelivery_of TEXT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NULL,
            last_attempt_at INTEGER NULL,
            last_status INTEGER NULL,
            last_error TEXT NULL,
            created_at INTEGER NOT NULL,
            completed_at INTEGER NULL
        );
        CREATE INDEX deliveries_log ON deliveries (subscription_id, seq);
        CREATE INDEX deliveries_pending ON deliveries (subscription_id, seq) WHERE state = 'pending';
        CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at IS NOT NULL;
        """,
        // Where in the call store's event log the queue is complete up to: a restart replays the events after it.
        """
        CREATE TABLE event_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            epoch TEXT NOT NULL,
            position INTEGER NOT NULL
        );
        """,
    ];

    private const string DeliveryColumns =
        "id, subscription_id, message_id, event_id, event_type, call_id, state, attempts, last_attempt_at, last_status, last_error, " +
        "next_attempt_at, created_at, completed_at, redelivery_of";

    private const string SubscriptionColumns =
        "id, owner, url, event_types, address, description, secret, previous_secret, previous_secret_expires_at, state, disabled_reason, created_at";

    private readonly string _connectionString;
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookStore> _logger;
    private readonly SemaphoreSlim _initGate = new(1, 1);
    private volatile bool _initialized;

    public WebhookStore(IOptions<WebhookOptions> options, TimeProvider time, ILogger<WebhookStore> logger)
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
            var version = Convert.ToInt32(await ScalarAsync(connection, null, "PRAGMA user_version;", cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            if (version > SchemaVersion)
                throw new InvalidOperationException($"The webhook database {_path} has schema version {version}; this gateway knows up to {SchemaVersion}.");
            for (var next = version; next < SchemaVersion; next++)
            {
                await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, transaction, Migrations[next], cancellationToken);
                await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {next + 1};", cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                _logger.LogInformation("Webhook database {Path} migrated to schema version {Version}", _path, next + 1);
            }
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
            $"INSERT INTO subscriptions ({SubscriptionColumns}) VALUES ($id, $owner, $url, $types, $address, $description, $secret, NULL, NULL, 'enabled', NULL, $created);",
            ("$id", subscription.Id), ("$owner", owner), ("$url", url), ("$types", eventTypes is null ? null : string.Join(' ', eventTypes)),
            ("$address", address), ("$description", description), ("$secret", key), ("$created", Ms(subscription.CreatedAt)));
        await command.ExecuteNonQueryAsync(cancellationToken);
        return subscription;
    }

    public async Task<int> CountSubscriptionsAsync(string owner, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return Convert.ToInt32(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM subscriptions WHERE owner = $owner;", cancellationToken, ("$owner", owner)),
            System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<List<StoredSubscription>> ListSubscriptionsAsync(string owner, CancellationToken cancellationToken) =>
        QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE owner = $owner ORDER BY created_at, id;", cancellationToken, ("$owner", owner));

    /// <summary>The enabled subscriptions of every owner: the candidates for a new event.</summary>
    public Task<List<StoredSubscription>> EnabledSubscriptionsAsync(CancellationToken cancellationToken) =>
        QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE state = 'enabled' ORDER BY created_at, id;", cancellationToken);

    /// <summary>The subscription, if it exists and belongs to <paramref name="owner"/>.</summary>
    public async Task<StoredSubscription?> GetSubscriptionAsync(string owner, string id, CancellationToken cancellationToken) =>
        (await QuerySubscriptionsAsync($"SELECT {SubscriptionColumns} FROM subscriptions WHERE id = $id AND owner = $owner;", cancellationToken,
            ("$id", id), ("$owner", owner))).FirstOrDefault();

    /// <summary>Deletes the subscription and its delivery log. False when it does not exist or is not <paramref name="owner"/>'s.</summary>
    public async Task<bool> DeleteSubscriptionAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "DELETE FROM subscriptions WHERE id = $id AND owner = $owner;", ("$id", id), ("$owner", owner));
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>Replaces the signing key; the old one keeps signing (second signature) until <paramref name="previousKeyExpiresAt"/>.</summary>
    public async Task<StoredSubscription?> RotateKeyAsync(string owner, string id, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "UPDATE subscriptions SET previous_secret = secret, previous_secret_expires_at = $expires, secret = $secret WHERE id = $id AND owner = $owner;",
            ("$expires", Ms(previousKeyExpiresAt)), ("$secret", key), ("$id", id), ("$owner", owner));
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0) return null;
        return await GetSubscriptionAsync(owner, id, cancellationToken);
    }

    // ---- the queue -------------------------------------------------------------------------------------------------

    /// <summary>Adds deliveries in one transaction, in list order (which becomes their delivery order), due now, and records
    /// that the queue holds every event of the call log up to <paramref name="checkpoint"/>.</summary>
    public async Task EnqueueAsync(IReadOnlyList<NewDelivery> deliveries, CallLogHead checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var now = Ms(_time.GetUtcNow());
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        if (deliveries.Count > 0)
        {
            await using var command = Command(connection, transaction,
                $"INSERT INTO deliveries ({DeliveryColumns}, payload) VALUES ($id, $sub, $msg, $event, $type, $call, 'pending', 0, NULL, NULL, NULL, $now, $now, NULL, NULL, $payload);",
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
                         "ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, position = excluded.position;",
                         ("$epoch", checkpoint.Epoch), ("$position", checkpoint.Position)))
        {
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The call log position the queue is complete up to, or null before the first event.</summary>
    public async Task<CallLogHead?> CheckpointAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT epoch, position FROM event_checkpoint WHERE id = 1;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new CallLogHead(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>The head of every enabled subscription's queue (its oldest pending delivery), with its secrets.</summary>
    public async Task<List<QueuedDelivery>> QueueHeadsAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            """
            SELECT d.id, d.subscription_id, d.message_id, d.event_type, d.payload, d.attempts, d.next_attempt_at,
                   s.url, s.secret, s.previous_secret, s.previous_secret_expires_at
            FROM (SELECT MIN(seq) AS seq FROM deliveries WHERE state = 'pending' GROUP BY subscription_id) AS heads
            JOIN deliveries d ON d.seq = heads.seq
            JOIN subscriptions s ON s.id = d.subscription_id AND s.state = 'enabled'
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

    /// <summary>Records an attempt. When it disables the subscription, the subscription's other pending deliveries fail
    /// with it. False when the delivery no longer exists (its subscription was deleted meanwhile).</summary>
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

    /// <summary>
    /// Manual re-delivery. A finished delivery is enqueued again as a new delivery at the end of the subscription's queue,
    /// with the same message id (receivers that processed it drop it) and payload. A pending one is made due now, with every
    /// pending delivery before it (order is kept, so they go first). The delivery that will carry the event is returned.
    /// </summary>
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

    /// <summary>A page of a subscription's delivery log, newest first.</summary>
    /// <param name="before">The cursor: only deliveries older than this position (0 for the first page).</param>
    public async Task<(List<WebhookDelivery> Items, long? Next)> ListDeliveriesAsync(
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

    /// <summary>Deletes finished deliveries completed before <paramref name="before"/>; returns how many.</summary>
    public async Task<int> PurgeCompletedAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "DELETE FROM deliveries WHERE completed_at IS NOT NULL AND completed_at < $before;", ("$before", Ms(before)));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How many deliveries are pending, and when the oldest of them was queued.</summary>
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

    private async Task<List<StoredSubscription>> QuerySubscriptionsAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
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
                reader.IsDBNull(10) ? null : reader.GetString(10), Time(reader.GetInt64(11))));
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
        State = reader.GetString(6) switch { "pending" => DeliveryState.Pending, "succeeded" => DeliveryState.Succeeded, _ => DeliveryState.Failed },
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

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    internal static string StateText(DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.Succeeded => "succeeded",
        _ => "failed",
    };

    private static string NewId(string prefix) => prefix + RandomNumberGenerator.GetString(IdAlphabet, 20);

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DateTimeOffset Truncate(DateTimeOffset time) => Time(Ms(time));

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));
}
