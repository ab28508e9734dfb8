using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Service.Storage;

/// <summary>
/// The service's SQLite file (<c>ActiveCalls:Storage:DatabasePath</c>): the calls' SIP state, the published items, the
/// subscriptions and the authorisations, so that a restarted service can end the calls a crash left up and keeps serving
/// its subscribers. Schema version in <c>meta</c>; migrations run in one immediate transaction.
/// <list type="bullet">
/// <item>One connection, its statements serialised by a lock: every write is a single-row upsert or delete of a few
/// microseconds to a few hundred, made on the thread that is about to act on it (before the SIP message or the XMPP answer
/// that depends on it leaves), so the writes are synchronous.</item>
/// <item>WAL with <c>synchronous = NORMAL</c>: a commit is appended to the WAL without an fsync, so it survives the process
/// crashing (the OS has the pages), which is what this file is for; a power loss or kernel crash may lose the last commits
/// (never corrupting the file). FULL would fsync every write, for a guarantee the phones' own session timers give anyway.</item>
/// <item>A lock file beside the database (<c>.lock</c>) is held while it is open: two services on one file would end each
/// other's calls at start-up, so the second one fails to start instead. The OS drops the lock when the process dies, even by
/// <c>kill -9</c>.</item>
/// </list>
/// </summary>
public sealed class ServiceDatabase : IDisposable
{
    public const int SchemaVersion = 1;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            json TEXT NOT NULL
        );
        CREATE TABLE items (
            node TEXT NOT NULL,
            id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (node, id)
        );
        CREATE TABLE subscriptions (
            subid TEXT PRIMARY KEY,
            node TEXT NOT NULL,
            jid TEXT NOT NULL,
            deliver INTEGER NOT NULL,
            depth TEXT NOT NULL,
            expires INTEGER NOT NULL
        );
        CREATE TABLE grants (
            jid TEXT NOT NULL,
            address TEXT NOT NULL,
            expires INTEGER NOT NULL,
            PRIMARY KEY (jid, address)
        );
        """,
    ];

    private readonly object _gate = new();
    private readonly FileStream _lock;
    private readonly SqliteConnection _connection;
    private bool _disposed;

    /// <summary>Opens (creating the file and its folder if needed) and migrates the database at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOperationException">another process has the database open, or its schema is newer than this service.</exception>
    public ServiceDatabase(string path, ILogger<ServiceDatabase>? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        if (System.IO.Path.GetDirectoryName(Path) is { } folder) Directory.CreateDirectory(folder);
        try
        {
            _lock = new FileStream(Path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"The database {Path} is in use by another Active-Calls service ({e.Message}).", e);
        }
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        try
        {
            _connection.Open();
            Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;");
            Migrate(logger ?? (ILogger)NullLogger.Instance);
        }
        catch
        {
            _connection.Dispose();
            _lock.Dispose();
            throw;
        }
    }

    /// <summary>The database file (full path).</summary>
    public string Path { get; }

    /// <summary>Runs <paramref name="sql"/> (one or more statements); returns the rows changed.</summary>
    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command(sql, parameters);
            return command.ExecuteNonQuery();
        }
    }

    /// <summary>The rows of <paramref name="sql"/>, each read by <paramref name="read"/>.</summary>
    public List<T> Query<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command(sql, parameters);
            using var reader = command.ExecuteReader();
            var rows = new List<T>();
            while (reader.Read()) rows.Add(read(reader));
            return rows;
        }
    }

    /// <summary>Times are stored as UTC ticks.</summary>
    public static long Ticks(DateTimeOffset time) => time.UtcTicks;

    public static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _connection.Dispose();
            _lock.Dispose();
        }
    }

    private void Migrate(ILogger logger)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        Execute(transaction, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);");
        using var read = Command("SELECT value FROM meta WHERE key = 'schema_version';", []);
        read.Transaction = transaction;
        var version = read.ExecuteScalar() is string text ? int.Parse(text, CultureInfo.InvariantCulture) : 0;
        if (version > SchemaVersion)
            throw new InvalidOperationException($"The database {Path} has schema version {version}; this service knows up to {SchemaVersion}.");
        for (var next = version; next < SchemaVersion; next++)
        {
            Execute(transaction, Migrations[next]);
            logger.LogInformation("Service database {Path} migrated to schema version {Version}", Path, next + 1);
        }
        Execute(transaction, "INSERT INTO meta (key, value) VALUES ('schema_version', $version) ON CONFLICT (key) DO UPDATE SET value = excluded.value;",
            ("$version", SchemaVersion.ToString(CultureInfo.InvariantCulture)));
        transaction.Commit();
    }

    private void Execute(SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, (string Name, object? Value)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }
}
