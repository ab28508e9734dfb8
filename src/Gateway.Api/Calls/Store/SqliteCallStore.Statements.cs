using Gateway.Api.Calls.State;
using Microsoft.Data.Sqlite;
using static Gateway.Api.Calls.Store.CallDatabase;

namespace Gateway.Api.Calls.Store;

public sealed partial class SqliteCallStore
{
    /// <summary>The statements every commit runs, prepared once on the writer connection (preparing them anew each
    /// time cost about as much as running them).</summary>
    private sealed class WriterStatements(SqliteConnection writer) : IDisposable
    {
        /// <summary>Inserts or rewrites the call, keeping its <c>ord</c>, and drops its leg index rows.</summary>
        private readonly SqliteCommand _upsert = Command(writer, null,
            """
            INSERT INTO calls (id, state, visible, created_at, ended_at, json) VALUES ($id, $state, $visible, $created, $ended, $json)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, visible = excluded.visible, created_at = excluded.created_at,
                ended_at = excluded.ended_at, json = excluded.json;
            DELETE FROM call_items WHERE call_id = $id;
            DELETE FROM call_sip_ids WHERE call_id = $id;
            """,
            ("$id", ""), ("$state", ""), ("$visible", false), ("$created", 0L), ("$ended", null), ("$json", ""));

        /// <summary>An item id points at the call that wrote it last.</summary>
        private readonly SqliteCommand _item = Command(writer, null,
            "INSERT INTO call_items (item_id, call_id) VALUES ($item, $id) ON CONFLICT (item_id) DO UPDATE SET call_id = excluded.call_id;",
            ("$item", ""), ("$id", ""));

        /// <summary>A SIP Call-ID points at the first call that claimed it (as the in-memory store's TryAdd).</summary>
        private readonly SqliteCommand _sipCallId = Command(writer, null,
            "INSERT OR IGNORE INTO call_sip_ids (sip_call_id, call_id) VALUES ($sip, $id);", ("$sip", ""), ("$id", ""));

        private readonly SqliteCommand _append = Command(writer, null,
            "INSERT INTO events (call_id, sequence, json) VALUES ($call, $sequence, $json) RETURNING position;",
            ("$call", ""), ("$sequence", 0L), ("$json", ""));

        public void Enlist(SqliteTransaction transaction)
        {
            _upsert.Transaction = _item.Transaction = _sipCallId.Transaction = _append.Transaction = transaction;
        }

        public async Task WriteCallAsync(TrackedCall call, CancellationToken cancellationToken)
        {
            Set(_upsert, ("$id", call.Id), ("$state", CallStateMachine.StateName(call.State)), ("$visible", call.Visible),
                ("$created", Ticks(call.CreatedAt)), ("$ended", Ticks(call.EndedAt)), ("$json", TrackedCallJson.Serialize(call)));
            await _upsert.ExecuteNonQueryAsync(cancellationToken);
            foreach (var leg in call.Legs)
            {
                Set(_item, ("$item", leg.ItemId), ("$id", call.Id));
                await _item.ExecuteNonQueryAsync(cancellationToken);
                if (leg.Item.CallId is not { } sipCallId) continue;
                Set(_sipCallId, ("$sip", sipCallId), ("$id", call.Id));
                await _sipCallId.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        /// <summary>Appends the event to the log; returns its position.</summary>
        public async Task<long> AppendAsync(CallEvent e, CancellationToken cancellationToken)
        {
            Set(_append, ("$call", e.Call.Id), ("$sequence", e.Sequence), ("$json", TrackedCallJson.Serialize(e)));
            return (long)(await _append.ExecuteScalarAsync(cancellationToken))!;
        }

        public void Dispose()
        {
            _upsert.Dispose();
            _item.Dispose();
            _sipCallId.Dispose();
            _append.Dispose();
        }

        private static void Set(SqliteCommand command, params (string Name, object? Value)[] values)
        {
            foreach (var (name, value) in values) command.Parameters[name].Value = value ?? DBNull.Value;
        }
    }
}
