using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// The calls database (<see cref="Configuration.CallsOptions.DatabasePath"/>): its schema, its migrations and the SQLite
/// plumbing shared by the stores that live in it (<see cref="SqliteCallStore"/>, <see cref="Idempotency.SqliteIdempotencyStore"/>,
/// <see cref="CallEventsSubscription.Store.SqliteFollowedUserStore"/>).
/// <list type="bullet">
/// <item><c>meta</c> holds the schema version and the log epoch (10 hex, made once when the file is created and kept
/// forever, so stream cursors <c>{epoch}-{position}</c> stay valid across restarts).</item>
/// <item>Times the queries compare are UTC ticks (exact, like the in-memory store's <see cref="DateTimeOffset"/>
/// comparisons); values are JSON (<see cref="TrackedCallJson"/>).</item>
/// </list>
/// WAL with <c>synchronous = NORMAL</c>: a commit is appended to the WAL without an fsync, so it survives the process
/// crashing (the OS has the pages) but the last commits before a power loss or kernel crash may be lost; the database
/// itself is never corrupted. FULL would fsync every commit (milliseconds on most disks) for a guarantee that a
/// gateway, whose calls live in the telephony system anyway, does not need. The log is checkpointed in the background
/// (<see cref="CallDatabaseCheckpointer"/>), not by the commits.
/// </summary>
internal static class CallDatabase
{
    public const int SchemaVersion = 2;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE calls (
            ord INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL,
            visible INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            ended_at INTEGER NULL,
            json TEXT NOT NULL
        );
        CREATE INDEX calls_live ON calls (ord) WHERE state <> 'ended';
        CREATE INDEX calls_by_state ON calls (state, ord);
        CREATE INDEX calls_ended ON calls (ended_at) WHERE state = 'ended';
        CREATE TABLE call_items (
            item_id TEXT PRIMARY KEY,
            call_id TEXT NOT NULL
        );
        CREATE INDEX call_items_by_call ON call_items (call_id);
        CREATE TABLE call_sip_ids (
            sip_call_id TEXT PRIMARY KEY,
            call_id TEXT NOT NULL
        );
        CREATE INDEX call_sip_ids_by_call ON call_sip_ids (call_id);
        CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            json TEXT NOT NULL
        );
        CREATE INDEX events_by_call ON events (call_id, sequence);
        CREATE TABLE intents (
            id TEXT PRIMARY KEY,
            call_id TEXT NOT NULL,
            json TEXT NOT NULL
        );
        CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            status_code INTEGER NULL,
            headers TEXT NULL,
            body BLOB NULL,
            expires_at INTEGER NULL
        );
        CREATE INDEX idempotency_expiry ON idempotency (expires_at) WHERE status = 'completed';
        """,
        // 2: the followed users added through /followed-users; password is a Data Protection payload, never clear text.
        """
        CREATE TABLE followed_users (
            address TEXT PRIMARY KEY,
            password TEXT NOT NULL,
            added_at INTEGER NOT NULL
        );
        """,
    ];

    /// <summary>The log size (4 KiB pages) at which a writer's commit checkpoints it itself: a safety net only, far above
    /// what <see cref="CallDatabaseCheckpointer"/> lets the log reach (SQLite's default is 1,000).</summary>
    public const int AutoCheckpointPages = 16_384;

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> WriteGates = new(StringComparer.Ordinal);

    /// <summary>
    /// The one gate every writer of the database at <paramref name="path"/> in this process takes (the call store, the
    /// idempotency store, the followed-user store). SQLite lets one connection write at a time; a second writer gets
    /// <c>SQLITE_BUSY</c> and its busy handler sleeps 1, 2, 5, 10… ms before it looks again. Measured under load (the
    /// gateway benchmark at 16 concurrent creates): several such sleeps per create, the largest part of a create's
    /// latency. Waiting on this gate instead hands the file over the moment the previous write commits. Keyed by the
    /// file, as SQLite's own lock is: the stores of one file share it whoever built them.
    /// </summary>
    public static SemaphoreSlim WriteGate(string path) => WriteGates.GetOrAdd(Path.GetFullPath(path), _ => new SemaphoreSlim(1, 1));

    /// <summary>A connection string for <paramref name="path"/>: pooled (a pooled open takes microseconds), waiting up to
    /// 30 s for another connection's write lock. Each mode has a pool of its own (pools are per connection string).</summary>
    public static string ConnectionString(string path, SqliteOpenMode mode = SqliteOpenMode.ReadWriteCreate) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Creates the file (and its folder), switches it to WAL and brings the schema up to date; returns the log
    /// epoch. Safe to call from several stores of the same file: a migration runs in an immediate transaction that
    /// re-reads the version first.</summary>
    public static async Task<string> MigrateAsync(string path, ILogger logger, CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        await using var connection = await OpenConnectionAsync(path, cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);", cancellationToken);
        var version = await ScalarAsync(connection, transaction, "SELECT value FROM meta WHERE key = 'schema_version';", cancellationToken) is string text
            ? int.Parse(text, CultureInfo.InvariantCulture)
            : 0;
        if (version > SchemaVersion)
            throw new InvalidOperationException($"The calls database {path} has schema version {version}; this gateway knows up to {SchemaVersion}.");
        for (var next = version; next < SchemaVersion; next++)
        {
            await ExecuteAsync(connection, transaction, Migrations[next], cancellationToken);
            logger.LogInformation("Calls database {Path} migrated to schema version {Version}", path, next + 1);
        }
        await ExecuteAsync(connection, transaction,
            "INSERT INTO meta (key, value) VALUES ('schema_version', $version) ON CONFLICT (key) DO UPDATE SET value = excluded.value;" +
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', $epoch);",
            cancellationToken, ("$version", SchemaVersion.ToString(CultureInfo.InvariantCulture)), ("$epoch", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))));
        var epoch = (string)(await ScalarAsync(connection, transaction, "SELECT value FROM meta WHERE key = 'epoch';", cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return epoch;
    }

    /// <summary>A read-only connection from a pool of its own. In WAL mode a reader sees the last commit and never takes
    /// the write lock, so it needs none of a writer's pragmas: running them on every pooled open cost about 3 % of the
    /// gateway's CPU at one request at a time (perf). A busy read is retried by Microsoft.Data.Sqlite itself, for up to
    /// the connection string's DefaultTimeout.</summary>
    public static async Task<SqliteConnection> OpenReaderAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadOnly));
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens a connection with this database's per-connection settings (see the class remarks).</summary>
    public static async Task<SqliteConnection> OpenConnectionAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        try
        {
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null,
                $"PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA wal_autocheckpoint = {AutoCheckpointPages};", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    /// <summary>A time as the queries compare it: UTC ticks.</summary>
    public static long Ticks(DateTimeOffset time) => time.UtcTicks;

    public static long? Ticks(DateTimeOffset? time) => time?.UtcTicks;
}
