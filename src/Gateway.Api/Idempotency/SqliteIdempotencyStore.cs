using System.Text.Json;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using static Gateway.Api.Calls.Store.CallDatabase;

namespace Gateway.Api.Idempotency;

/// <summary>
/// Idempotency-Key outcomes in the calls database (table <c>idempotency</c>, see <see cref="CallDatabase"/>), so a replay
/// still answers after a restart. Semantics are <see cref="InMemoryIdempotencyStore"/>'s:
/// <list type="bullet">
/// <item>One process owns the file: the file's write gate (<see cref="CallDatabase.WriteGate"/>) serialises the store's
/// operations with the other writers of the file (begin is a check-and-insert), and the
/// requests waiting for an in-progress key wait on a <see cref="TaskCompletionSource"/> of this process.</item>
/// <item>A key left <c>in_progress</c> by a previous process (it crashed or stopped mid-request) is free: such rows are
/// deleted when the store opens. Nobody can be waiting for them, and whether the request was carried out is unknown
/// either way; the in-memory store forgets them on restart too.</item>
/// <item>Expired responses are deleted when their key is used again, when the store is full, and by
/// <see cref="PurgeExpiredAsync"/> (for the host to call periodically). <see cref="IdempotencyOptions.MaxEntries"/>
/// bounds the rows as in memory: when full, expired responses go, then the ones closest to expiry.</item>
/// </list>
/// </summary>
internal sealed class SqliteIdempotencyStore : IIdempotencyStore, IAsyncDisposable
{
    private const string InProgress = "in_progress";
    private const string Completed = "completed";

    private readonly string _path;
    private readonly IOptions<IdempotencyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SqliteIdempotencyStore> _logger;
    // The file's write gate (see CallDatabase.WriteGate): it also makes begin a check-and-insert.
    private readonly SemaphoreSlim _gate;
    private readonly Dictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);
    private SqliteConnection? _connection;
    private long _count;

    public SqliteIdempotencyStore(IOptions<CallsOptions> calls, IOptions<IdempotencyOptions> options, TimeProvider time, ILogger<SqliteIdempotencyStore> logger)
    {
        _path = calls.Value.DatabasePath;
        _gate = WriteGate(_path);
        _options = options;
        _time = time;
        _logger = logger;
    }

    public async ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = await ConnectionAsync(cancellationToken);
            var now = _time.GetUtcNow();
            var expired = false;
            await using (var find = Command(connection, null, "SELECT fingerprint, status, status_code, headers, body, expires_at FROM idempotency WHERE key = $key;", ("$key", key)))
            await using (var row = await find.ExecuteReaderAsync(cancellationToken))
            {
                if (await row.ReadAsync(cancellationToken))
                {
                    var storedFingerprint = row.GetString(0);
                    if (row.GetString(1) == InProgress)
                        return new IdempotencyBegin.InProgress(storedFingerprint, Waiter(key).Task);
                    if (row.GetInt64(5) > Ticks(now))
                        return new IdempotencyBegin.Completed(storedFingerprint, new StoredResponse(row.GetInt32(2),
                            JsonSerializer.Deserialize<List<KeyValuePair<string, string>>>(row.GetString(3)) ?? [], (byte[])row[4]));
                    expired = true;
                }
            }
            // One write: a new key is inserted, an expired response's row is taken over in place.
            if (!expired && _count >= _options.Value.MaxEntries) await TrimAsync(connection, now, cancellationToken);
            await ExecuteAsync(connection, null,
                $"""
                INSERT INTO idempotency (key, fingerprint, status) VALUES ($key, $fingerprint, '{InProgress}')
                ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status, status_code = NULL, headers = NULL,
                    body = NULL, expires_at = NULL;
                """,
                cancellationToken, ("$key", key), ("$fingerprint", fingerprint));
            if (!expired) _count++;
            Waiter(key);
            return new IdempotencyBegin.Acquired();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = await ConnectionAsync(cancellationToken);
            var updated = await ExecuteAsync(connection, null,
                $"""
                UPDATE idempotency SET status = '{Completed}', status_code = $code, headers = $headers, body = $body, expires_at = $expires
                WHERE key = $key AND status = '{InProgress}';
                """,
                cancellationToken, ("$code", response.StatusCode), ("$headers", JsonSerializer.Serialize(response.Headers)), ("$body", response.Body),
                ("$expires", Ticks(_time.GetUtcNow() + ttl)), ("$key", key));
            if (updated > 0) Wake(key);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = await ConnectionAsync(cancellationToken);
            var deleted = await ExecuteAsync(connection, null, $"DELETE FROM idempotency WHERE key = $key AND status = '{InProgress}';", cancellationToken, ("$key", key));
            _count -= deleted;
            if (deleted > 0) Wake(key);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Deletes the responses whose time is up; returns how many.</summary>
    public async ValueTask<int> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = await ConnectionAsync(cancellationToken);
            var purged = await DeleteExpiredAsync(connection, _time.GetUtcNow(), cancellationToken);
            _count -= purged;
            return purged;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private TaskCompletionSource Waiter(string key)
    {
        if (!_waiters.TryGetValue(key, out var waiter))
            _waiters[key] = waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return waiter;
    }

    /// <summary>Under <see cref="_gate"/>, so a request that takes the key next gets a waiter of its own.</summary>
    private void Wake(string key)
    {
        if (_waiters.Remove(key, out var waiter)) waiter.TrySetResult();
    }

    /// <summary>Expired responses first, then the responses closest to expiry, until one more key fits.</summary>
    private async Task TrimAsync(SqliteConnection connection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        _count -= await DeleteExpiredAsync(connection, now, cancellationToken);
        var excess = _count - _options.Value.MaxEntries + 1;
        if (excess <= 0) return;
        _count -= await ExecuteAsync(connection, null,
            $"DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE status = '{Completed}' ORDER BY expires_at LIMIT $excess);",
            cancellationToken, ("$excess", excess));
    }

    private static Task<int> DeleteExpiredAsync(SqliteConnection connection, DateTimeOffset now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"DELETE FROM idempotency WHERE status = '{Completed}' AND expires_at <= $now;", cancellationToken, ("$now", Ticks(now)));

    /// <summary>The store's one connection, kept open (every operation runs under <see cref="_gate"/>, so one is all it
    /// needs, and a pooled open would run the writer's pragmas again each time). Opening it migrates the file, frees the
    /// keys a previous process left in progress and counts the rows. Under <see cref="_gate"/>.</summary>
    private async Task<SqliteConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is not null) return _connection;
        await MigrateAsync(_path, _logger, cancellationToken);
        var connection = await OpenConnectionAsync(_path, cancellationToken);
        try
        {
            var freed = await ExecuteAsync(connection, null, $"DELETE FROM idempotency WHERE status = '{InProgress}';", cancellationToken);
            if (freed > 0) _logger.LogWarning("Freed {Count} idempotency keys a previous run left in progress", freed);
            _count = (long)(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM idempotency;", cancellationToken))!;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        return _connection = connection;
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_connection is not null) await _connection.DisposeAsync();
            _connection = null;
        }
        finally
        {
            _gate.Release();
        }
    }
}
