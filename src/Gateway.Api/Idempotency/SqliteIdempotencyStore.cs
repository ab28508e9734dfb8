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
/// <item>One process owns the file, so a key being executed is claimed in this process's memory, not in the file: a
/// claim written to the file would be worthless after a crash (nobody could be waiting for it, and whether its request
/// was carried out is unknown either way), and writing it cost every request a commit of its own. The requests that
/// arrive while a key is claimed wait on the claim's <see cref="TaskCompletionSource"/>.</item>
/// <item>Only responses are written: <see cref="CompleteAsync"/> commits the response, then frees the claim, so a
/// repeat that finds the key free reads the response. Writes run under the file's write gate
/// (<see cref="CallDatabase.WriteGate"/>) with the other writers of the file; begin reads on a read-only connection and
/// waits for no writer, and reads only when <see cref="StoredKeyFilter"/> says a row may hold the key: a new key
/// begins without touching the file.</item>
/// <item>Expired responses are deleted when their key is used again, when the store is full, and by
/// <see cref="PurgeExpiredAsync"/> (for the host to call periodically). <see cref="IdempotencyOptions.MaxEntries"/>
/// bounds the rows as in memory: when full, expired responses go, then the ones closest to expiry.</item>
/// </list>
/// </summary>
internal sealed class SqliteIdempotencyStore : IIdempotencyStore, IAsyncDisposable
{
    // Files written before claims moved to memory may hold rows of this status; they are deleted when the store opens.
    private const string InProgress = "in_progress";
    private const string Completed = "completed";

    private readonly string _path;
    private readonly IOptions<IdempotencyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SqliteIdempotencyStore> _logger;
    // The file's write gate (see CallDatabase.WriteGate).
    private readonly SemaphoreSlim _gate;
    // The keys being executed, under their own lock: claiming is a check-and-insert with no I/O.
    private readonly Dictionary<string, Claim> _claims = new(StringComparer.Ordinal);
    private readonly StoredKeyFilter _stored;
    private SqliteConnection? _connection;
    private ResponseStatements? _statements;
    private long _count;

    public SqliteIdempotencyStore(IOptions<CallsOptions> calls, IOptions<IdempotencyOptions> options, TimeProvider time, ILogger<SqliteIdempotencyStore> logger)
    {
        _path = calls.Value.DatabasePath;
        _gate = WriteGate(_path);
        _options = options;
        _stored = new StoredKeyFilter(options.Value.MaxEntries);
        _time = time;
        _logger = logger;
    }

    public async ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is null) await WriteAsync(_ => Task.FromResult(0), cancellationToken);
        var claim = new Claim(fingerprint);
        lock (_claims)
        {
            if (_claims.TryGetValue(key, out var running)) return new IdempotencyBegin.InProgress(running.Fingerprint, running.Finished.Task);
            _claims[key] = claim;
        }
        // The claim is held: no response for the key can be written meanwhile, so the filter's answer stays true.
        if (!_stored.MayContain(key)) return new IdempotencyBegin.Acquired();
        try
        {
            await using var connection = await OpenReaderAsync(_path, cancellationToken);
            await using var find = Command(connection, null, "SELECT fingerprint, status_code, headers, body, expires_at FROM idempotency WHERE key = $key;", ("$key", key));
            await using var row = await find.ExecuteReaderAsync(cancellationToken);
            // None, or expired: the request executes, and its response takes the row over in place.
            if (!await row.ReadAsync(cancellationToken) || row.GetInt64(4) <= Ticks(_time.GetUtcNow())) return new IdempotencyBegin.Acquired();
            var completed = new IdempotencyBegin.Completed(row.GetString(0), new StoredResponse(row.GetInt32(1),
                JsonSerializer.Deserialize<List<KeyValuePair<string, string>>>(row.GetString(2)) ?? [], (byte[])row[3]));
            Unclaim(key, claim);
            return completed;
        }
        catch
        {
            Unclaim(key, claim);
            throw;
        }
    }

    public async ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        Claim? claim;
        lock (_claims) _claims.TryGetValue(key, out claim);
        if (claim is null) return;
        try
        {
            await WriteAsync(async connection =>
            {
                var now = _time.GetUtcNow();
                var statements = _statements!;
                statements.Set(key, fingerprint, response, now + ttl);
                // A new key (the common case) is one statement; an expired response's row is taken over in place.
                if (await statements.Insert.ExecuteNonQueryAsync(cancellationToken) == 0) await statements.Update.ExecuteNonQueryAsync(cancellationToken);
                else
                {
                    _stored.Added(key);
                    if (++_count > _options.Value.MaxEntries) await TrimAsync(connection, key, now, cancellationToken);
                }
                return 0;
            }, cancellationToken);
        }
        finally
        {
            Unclaim(key, claim);
        }
    }

    public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        Claim? claim;
        lock (_claims) _claims.TryGetValue(key, out claim);
        if (claim is not null) Unclaim(key, claim);
        return ValueTask.CompletedTask;
    }

    /// <summary>Deletes the responses whose time is up; returns how many.</summary>
    public ValueTask<int> PurgeExpiredAsync(CancellationToken cancellationToken) =>
        new(WriteAsync(async connection =>
        {
            var purged = await DeleteExpiredAsync(connection, _time.GetUtcNow(), cancellationToken);
            _count -= purged;
            return purged;
        }, cancellationToken));

    /// <summary>Frees the key and wakes the requests waiting for it: they begin again and find the response, or the key free.</summary>
    private void Unclaim(string key, Claim claim)
    {
        lock (_claims)
        {
            if (_claims.TryGetValue(key, out var current) && ReferenceEquals(current, claim)) _claims.Remove(key);
        }
        claim.Finished.TrySetResult();
    }

    private async Task<T> WriteAsync<T>(Func<SqliteConnection, Task<T>> write, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await write(await ConnectionAsync(cancellationToken));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Expired responses first, then the responses closest to expiry other than <paramref name="stored"/>'s (the
    /// one just written), until the rows fit again.</summary>
    private async Task TrimAsync(SqliteConnection connection, string stored, DateTimeOffset now, CancellationToken cancellationToken)
    {
        _count -= await DeleteExpiredAsync(connection, now, cancellationToken);
        var excess = _count - _options.Value.MaxEntries;
        if (excess <= 0) return;
        _count -= await DeleteAsync(connection,
            $"DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE status = '{Completed}' AND key <> $stored ORDER BY expires_at LIMIT $excess) RETURNING key;",
            cancellationToken, ("$stored", stored), ("$excess", excess));
    }

    private Task<int> DeleteExpiredAsync(SqliteConnection connection, DateTimeOffset now, CancellationToken cancellationToken) =>
        DeleteAsync(connection, $"DELETE FROM idempotency WHERE status = '{Completed}' AND expires_at <= $now RETURNING key;", cancellationToken, ("$now", Ticks(now)));

    /// <summary>Runs a <c>DELETE … RETURNING key</c> and uncounts the keys it deleted; returns how many.</summary>
    private async Task<int> DeleteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, null, sql, parameters);
        await using var deleted = await command.ExecuteReaderAsync(cancellationToken);
        var count = 0;
        for (; await deleted.ReadAsync(cancellationToken); count++) _stored.Removed(deleted.GetString(0));
        return count;
    }

    /// <summary>The store's writing connection, kept open (every write runs under <see cref="_gate"/>, so one is all it
    /// needs, and a pooled open would run the writer's pragmas again each time). Opening it migrates the file, deletes
    /// the claims older versions wrote to the file and counts the rows. Under <see cref="_gate"/>.</summary>
    private async Task<SqliteConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is not null) return _connection;
        await MigrateAsync(_path, _logger, cancellationToken);
        var connection = await OpenConnectionAsync(_path, cancellationToken);
        try
        {
            var freed = await ExecuteAsync(connection, null, $"DELETE FROM idempotency WHERE status = '{InProgress}';", cancellationToken);
            if (freed > 0) _logger.LogWarning("Freed {Count} idempotency keys a previous run left in progress", freed);
            await using (var keys = Command(connection, null, "SELECT key FROM idempotency;"))
            await using (var rows = await keys.ExecuteReaderAsync(cancellationToken))
                for (_count = 0; await rows.ReadAsync(cancellationToken); _count++) _stored.Added(rows.GetString(0));
            _statements = new ResponseStatements(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        Volatile.Write(ref _connection, connection);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _statements?.Dispose();
            _statements = null;
            if (_connection is not null) await _connection.DisposeAsync();
            _connection = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The statements that store a response, prepared once on the store's connection (preparing them anew each
    /// time cost about as much as running them, as in <see cref="SqliteCallStore"/>).</summary>
    private sealed class ResponseStatements(SqliteConnection connection) : IDisposable
    {
        private static readonly (string Name, object? Value)[] Columns =
            [("$key", ""), ("$fingerprint", ""), ("$code", 0), ("$headers", ""), ("$body", Array.Empty<byte>()), ("$expires", 0L)];

        public SqliteCommand Insert { get; } = Command(connection, null,
            $"""
            INSERT INTO idempotency (key, fingerprint, status, status_code, headers, body, expires_at)
            VALUES ($key, $fingerprint, '{Completed}', $code, $headers, $body, $expires) ON CONFLICT (key) DO NOTHING;
            """, Columns);

        public SqliteCommand Update { get; } = Command(connection, null,
            $"""
            UPDATE idempotency SET fingerprint = $fingerprint, status = '{Completed}', status_code = $code, headers = $headers, body = $body,
                expires_at = $expires WHERE key = $key;
            """, Columns);

        public void Set(string key, string fingerprint, StoredResponse response, DateTimeOffset expires)
        {
            var headers = JsonSerializer.Serialize(response.Headers);
            foreach (var command in (SqliteCommand[])[Insert, Update])
            {
                command.Parameters["$key"].Value = key;
                command.Parameters["$fingerprint"].Value = fingerprint;
                command.Parameters["$code"].Value = response.StatusCode;
                command.Parameters["$headers"].Value = headers;
                command.Parameters["$body"].Value = response.Body;
                command.Parameters["$expires"].Value = Ticks(expires);
            }
        }

        public void Dispose()
        {
            Insert.Dispose();
            Update.Dispose();
        }
    }

    private sealed class Claim(string fingerprint)
    {
        public string Fingerprint { get; } = fingerprint;
        public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
