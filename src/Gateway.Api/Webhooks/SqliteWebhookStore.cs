using System.Data.Common;
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
public sealed partial class SqliteWebhookStore : IWebhookStore, IDisposable
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
