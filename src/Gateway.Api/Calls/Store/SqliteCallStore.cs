using System.Text;
using Gateway.Api.Calls.State;
using Gateway.Api.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using static Gateway.Api.Calls.Store.CallDatabase;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// Calls, their events, the event log and command intents in one SQLite file (<see cref="CallsOptions.DatabasePath"/>;
/// schema in <see cref="CallDatabase"/>): durable, so the log keeps its epoch and positions across restarts.
/// <list type="bullet">
/// <item>Writes go through one connection kept open (the <see cref="CallTracker"/> is the single writer; the file's
/// <see cref="CallDatabase.WriteGate"/> serialises it with <see cref="PurgeAsync"/> and the other stores of the file); each <see cref="CommitAsync"/> is one transaction, its hot statements
/// prepared once (<see cref="WriterStatements"/>). Measured (Stopwatch, 5,000 calls, on a shared 2-core machine with a
/// load average near 10, so an upper bound): 550–750 µs per commit of one call upsert and one event (a bare one-row
/// transaction on the same file: 70–110 µs; the rest is JSON, seven index and table writes and the amortised WAL
/// checkpoints), 35–100 µs per <see cref="GetAsync"/>, 0.4–1.4 ms per 50-call page of <see cref="ListAsync"/>.</item>
/// <item>Reads open a read-only connection of their own from the pool (<see cref="CallDatabase.OpenReaderAsync"/>), so in
/// WAL mode they run beside a write and see the last committed state.</item>
/// <item>A call is one row (the whole <see cref="TrackedCall"/> as JSON beside the columns the queries filter on);
/// <c>ord</c>, its insertion order, is the cursor of <see cref="ListAsync"/>: AUTOINCREMENT, kept when the call is
/// rewritten, never reused after a purge. Event positions are never reused either.</item>
/// <item>Events are kept per call without a bound (the in-memory store's <see cref="CallsOptions.MaxEventsPerCall"/> does
/// not apply); <see cref="PurgeAsync"/> (after <see cref="CallsOptions.EndedRetention"/>) bounds the file. Removing a
/// call (a rename, a held call dropped) forgets its events, from the log too: only held calls are removed, and a held
/// call has published none.</item>
/// </list>
/// </summary>
public sealed partial class SqliteCallStore : ICallStore, IAsyncDisposable
{
    private const string Ended = "ended";

    private readonly string _path;
    private readonly ILogger<SqliteCallStore> _logger;
    private readonly SemaphoreSlim _writeGate;
    private SqliteConnection? _writer;
    private WriterStatements? _statements;
    private string? _epoch;

    public SqliteCallStore(IOptions<CallsOptions> options, ILogger<SqliteCallStore> logger)
    {
        _path = options.Value.DatabasePath;
        _writeGate = WriteGate(_path);
        _logger = logger;
    }

    /// <summary>The database file.</summary>
    public string Path => _path;

    public async ValueTask<CallLogHead> OpenAsync(CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            var writer = await WriterAsync(cancellationToken);
            return new CallLogHead(_epoch!, await HeadAsync(writer, null, cancellationToken));
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public ValueTask<TrackedCall?> GetAsync(string id, CancellationToken cancellationToken) =>
        ReadCallAsync("SELECT json FROM calls WHERE id = $key;", id, cancellationToken);

    public ValueTask<TrackedCall?> FindBySipCallIdAsync(string sipCallId, CancellationToken cancellationToken) =>
        ReadCallAsync("SELECT c.json FROM call_sip_ids s JOIN calls c ON c.id = s.call_id WHERE s.sip_call_id = $key;", sipCallId, cancellationToken);

    public ValueTask<TrackedCall?> FindByItemAsync(string itemId, CancellationToken cancellationToken) =>
        ReadCallAsync("SELECT c.json FROM call_items i JOIN calls c ON c.id = i.call_id WHERE i.item_id = $key;", itemId, cancellationToken);

    public async ValueTask<IReadOnlyList<StoredCallEvent>> CommitAsync(CallCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        if (commit.IsEmpty) return [];
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            var writer = await WriterAsync(cancellationToken);
            await using var transaction = writer.BeginTransaction(deferred: false);
            var statements = _statements!;
            statements.Enlist(transaction);
            foreach (var id in commit.RemovedCalls) await RemoveCallAsync(writer, transaction, id, cancellationToken);
            foreach (var call in commit.Calls) await statements.WriteCallAsync(call, cancellationToken);
            var stored = new List<StoredCallEvent>(commit.Events.Count);
            foreach (var e in commit.Events) stored.Add(new StoredCallEvent(await statements.AppendAsync(e, cancellationToken), e));
            foreach (var id in commit.RemovedIntents)
                await ExecuteAsync(writer, transaction, "DELETE FROM intents WHERE id = $id;", cancellationToken, ("$id", id));
            foreach (var intent in commit.Intents)
                await ExecuteAsync(writer, transaction,
                    "INSERT INTO intents (id, call_id, json) VALUES ($id, $call, $json) ON CONFLICT (id) DO UPDATE SET call_id = excluded.call_id, json = excluded.json;",
                    cancellationToken, ("$id", intent.Id), ("$call", intent.CallId), ("$json", TrackedCallJson.Serialize(intent)));
            await transaction.CommitAsync(cancellationToken);
            return stored;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async ValueTask<IReadOnlyList<TrackedCall>> LiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT json FROM calls WHERE state <> '{Ended}' ORDER BY ord;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var calls = new List<TrackedCall>();
        while (await reader.ReadAsync(cancellationToken)) calls.Add(TrackedCallJson.DeserializeCall(reader.GetString(0)));
        return calls;
    }

    /// <summary>The state, creation and end filters and the cursor are SQL (the <c>calls_live</c> and
    /// <c>calls_by_state</c> indexes give the rows in cursor order); the address and the caller's visibility are checked
    /// on the rows as they come, until the page and one more match are found.</summary>
    public async ValueTask<CallPageResult> ListAsync(CallQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = new StringBuilder("SELECT ord, json FROM calls WHERE ord > $after AND visible = 1");
        sql.Append(query.State is { } state ? " AND state = $state" : $" AND state <> '{Ended}'");
        if (query.CreatedAfter is not null) sql.Append(" AND created_at >= $createdAfter");
        if (query.CreatedBefore is not null) sql.Append(" AND created_at < $createdBefore");
        if (query.EndedAfter is not null) sql.Append(" AND ended_at >= $endedAfter");
        if (query.EndedBefore is not null) sql.Append(" AND ended_at < $endedBefore");
        sql.Append(" ORDER BY ord;");
        await using var connection = await ReaderAsync(cancellationToken);
        await using var command = Command(connection, null, sql.ToString(),
            ("$after", query.After), ("$state", query.State is { } s ? CallStateMachine.StateName(s) : null),
            ("$createdAfter", Ticks(query.CreatedAfter)), ("$createdBefore", Ticks(query.CreatedBefore)),
            ("$endedAfter", Ticks(query.EndedAfter)), ("$endedBefore", Ticks(query.EndedBefore)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var page = new CallPageBuilder(query);
        while (await reader.ReadAsync(cancellationToken))
            if (!page.Offer(reader.GetInt64(0), TrackedCallJson.DeserializeCall(reader.GetString(1)))) break;
        return page.Result();
    }

    public async ValueTask<IReadOnlyList<CallEvent>> EventsAsync(string callId, long afterSequence, CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        await using var command = Command(connection, null,
            // Only a stored call has events (as in memory, where an event of an unknown call goes to the log only).
            "SELECT json FROM events WHERE call_id = $call AND sequence > $after AND EXISTS (SELECT 1 FROM calls WHERE id = $call) ORDER BY sequence, position;",
            ("$call", callId), ("$after", afterSequence));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<CallEvent>();
        while (await reader.ReadAsync(cancellationToken)) events.Add(TrackedCallJson.DeserializeEvent(reader.GetString(0)));
        return events;
    }

    public async ValueTask<IReadOnlyList<StoredCallEvent>> ReadLogAsync(long afterPosition, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT position, json FROM events WHERE position > $after ORDER BY position LIMIT $limit;", ("$after", afterPosition), ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<StoredCallEvent>();
        while (await reader.ReadAsync(cancellationToken)) events.Add(new StoredCallEvent(reader.GetInt64(0), TrackedCallJson.DeserializeEvent(reader.GetString(1))));
        return events;
    }

    public async ValueTask<long> OldestLogPositionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        // In one read transaction, so a commit between the two reads cannot make the answer skip an event.
        await using var transaction = connection.BeginTransaction(deferred: true);
        return await ScalarAsync(connection, transaction, "SELECT MIN(position) FROM events;", cancellationToken) is long oldest
            ? oldest
            : await HeadAsync(connection, transaction, cancellationToken) + 1;
    }

    public async ValueTask<IReadOnlyList<CommandIntent>> IntentsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT json FROM intents ORDER BY rowid;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var intents = new List<CommandIntent>();
        while (await reader.ReadAsync(cancellationToken)) intents.Add(TrackedCallJson.DeserializeIntent(reader.GetString(0)));
        return intents;
    }

    public async ValueTask<int> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            var writer = await WriterAsync(cancellationToken);
            await using var transaction = writer.BeginTransaction(deferred: false);
            const string Expired = $"SELECT id FROM calls WHERE state = '{Ended}' AND ended_at < $before";
            var before = ("$before", (object?)Ticks(endedBefore));
            await ExecuteAsync(writer, transaction, $"DELETE FROM events WHERE call_id IN ({Expired});", cancellationToken, before);
            await ExecuteAsync(writer, transaction, $"DELETE FROM call_items WHERE call_id IN ({Expired});", cancellationToken, before);
            await ExecuteAsync(writer, transaction, $"DELETE FROM call_sip_ids WHERE call_id IN ({Expired});", cancellationToken, before);
            var purged = await ExecuteAsync(writer, transaction, $"DELETE FROM calls WHERE state = '{Ended}' AND ended_at < $before;", cancellationToken, before);
            await transaction.CommitAsync(cancellationToken);
            if (purged > 0) _logger.LogDebug("Purged {Count} calls that ended before {Before}", purged, endedBefore);
            return purged;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _writeGate.WaitAsync();
        try
        {
            if (_writer is null) return;
            // The pooled read connections of this file close as well, so the file is free once the store is disposed.
            SqliteConnection.ClearPool(_writer);
            using (var reader = new SqliteConnection(ConnectionString(_path, SqliteOpenMode.ReadOnly))) SqliteConnection.ClearPool(reader);
            _statements?.Dispose();
            _statements = null;
            await _writer.DisposeAsync();
            _writer = null;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    // ---- plumbing --------------------------------------------------------------------------------------------------

    /// <summary>The writer connection, opened (and the schema migrated) on first use. Under <see cref="_writeGate"/>.</summary>
    private async Task<SqliteConnection> WriterAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null) return _writer;
        _epoch = await MigrateAsync(_path, _logger, cancellationToken);
        _writer = await OpenConnectionAsync(_path, cancellationToken);
        _statements = new WriterStatements(_writer);
        return _writer;
    }

    private async Task<SqliteConnection> ReaderAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _writer) is null) await OpenAsync(cancellationToken);
        return await OpenReaderAsync(_path, cancellationToken);
    }

    private async ValueTask<TrackedCall?> ReadCallAsync(string sql, string key, CancellationToken cancellationToken)
    {
        await using var connection = await ReaderAsync(cancellationToken);
        return await ScalarAsync(connection, null, sql, cancellationToken, ("$key", key)) is string json ? TrackedCallJson.DeserializeCall(json) : null;
    }

    /// <summary>The last position ever given (AUTOINCREMENT remembers it when the events are purged), 0 before the first.</summary>
    private static async Task<long> HeadAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        await ScalarAsync(connection, transaction, "SELECT seq FROM sqlite_sequence WHERE name = 'events';", cancellationToken) is long head ? head : 0;

    private static async Task RemoveCallAsync(SqliteConnection writer, SqliteTransaction transaction, string id, CancellationToken cancellationToken) =>
        await ExecuteAsync(writer, transaction,
            """
            DELETE FROM call_items WHERE call_id = $id;
            DELETE FROM call_sip_ids WHERE call_id = $id;
            DELETE FROM events WHERE call_id = $id;
            DELETE FROM calls WHERE id = $id;
            """, cancellationToken, ("$id", id));
}
