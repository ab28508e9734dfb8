using System.Text.Json;
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
        // A commit dirties only the pages whose rows change: most commits change a call's JSON and append an event, and
        // rewriting the indexed columns or the leg index rows with equal values would still rewrite their pages (each a
        // WAL frame of 4 KiB). Measured with the gateway benchmark: see docs/benchmarks.md.

        /// <summary>Rewrites the call's JSON alone while its indexed columns are unchanged (no index page is touched).</summary>
        private readonly SqliteCommand _rewrite = Command(writer, null,
            "UPDATE calls SET json = $json WHERE id = $id AND state = $state AND visible = $visible AND created_at = $created AND ended_at IS $ended;",
            ("$id", ""), ("$state", ""), ("$visible", false), ("$created", 0L), ("$ended", null), ("$json", ""));

        /// <summary>Inserts a call the file does not hold yet (a create begun, a call first seen in an item). Such a call has no
        /// leg index rows: a call's rows go with it when it is removed or purged.</summary>
        private readonly SqliteCommand _insert = Command(writer, null,
            "INSERT INTO calls (id, state, visible, created_at, ended_at, json) VALUES ($id, $state, $visible, $created, $ended, $json) ON CONFLICT (id) DO NOTHING;",
            ("$id", ""), ("$state", ""), ("$visible", false), ("$created", 0L), ("$ended", null), ("$json", ""));

        /// <summary>Inserts or rewrites the call, keeping its <c>ord</c>.</summary>
        private readonly SqliteCommand _upsert = Command(writer, null,
            """
            INSERT INTO calls (id, state, visible, created_at, ended_at, json) VALUES ($id, $state, $visible, $created, $ended, $json)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, visible = excluded.visible, created_at = excluded.created_at,
                ended_at = excluded.ended_at, json = excluded.json;
            """,
            ("$id", ""), ("$state", ""), ("$visible", false), ("$created", 0L), ("$ended", null), ("$json", ""));

        /// <summary>Drops the call's leg index rows for legs it no longer has ($items, $sips: JSON arrays of what it has).</summary>
        private readonly SqliteCommand _dropStale = Command(writer, null,
            """
            DELETE FROM call_items WHERE call_id = $id AND item_id NOT IN (SELECT value FROM json_each($items));
            DELETE FROM call_sip_ids WHERE call_id = $id AND sip_call_id NOT IN (SELECT value FROM json_each($sips));
            """,
            ("$id", ""), ("$items", "[]"), ("$sips", "[]"));

        /// <summary>An item id points at the call that wrote it last (a row already pointing there is left alone).</summary>
        private readonly SqliteCommand _item = Command(writer, null,
            "INSERT INTO call_items (item_id, call_id) VALUES ($item, $id) ON CONFLICT (item_id) DO UPDATE SET call_id = excluded.call_id WHERE call_id <> excluded.call_id;",
            ("$item", ""), ("$id", ""));

        /// <summary>A SIP Call-ID points at the first call that claimed it (as the in-memory store's TryAdd).</summary>
        private readonly SqliteCommand _sipCallId = Command(writer, null,
            "INSERT OR IGNORE INTO call_sip_ids (sip_call_id, call_id) VALUES ($sip, $id);", ("$sip", ""), ("$id", ""));

        private readonly SqliteCommand _append = Command(writer, null,
            "INSERT INTO events (call_id, sequence, json) VALUES ($call, $sequence, $json) RETURNING position;",
            ("$call", ""), ("$sequence", 0L), ("$json", ""));

        public void Enlist(SqliteTransaction transaction)
        {
            _rewrite.Transaction = _insert.Transaction = _upsert.Transaction = _dropStale.Transaction = _item.Transaction = _sipCallId.Transaction = _append.Transaction = transaction;
        }

        public async Task WriteCallAsync(TrackedCall call, CancellationToken cancellationToken)
        {
            (string, object?)[] row = [("$id", call.Id), ("$state", CallStateMachine.StateName(call.State)), ("$visible", call.Visible),
                ("$created", Ticks(call.CreatedAt)), ("$ended", Ticks(call.EndedAt)), ("$json", TrackedCallJson.Serialize(call))];
            Set(_rewrite, row);
            if (await _rewrite.ExecuteNonQueryAsync(cancellationToken) > 0) await DropStaleLegsAsync(call, cancellationToken);
            else
            {
                Set(_insert, row);
                if (await _insert.ExecuteNonQueryAsync(cancellationToken) == 0)
                {
                    Set(_upsert, row);
                    await _upsert.ExecuteNonQueryAsync(cancellationToken);
                    await DropStaleLegsAsync(call, cancellationToken);
                }
            }
            foreach (var leg in call.Legs)
            {
                Set(_item, ("$item", leg.ItemId), ("$id", call.Id));
                await _item.ExecuteNonQueryAsync(cancellationToken);
                if (leg.Item.CallId is not { } sipCallId) continue;
                Set(_sipCallId, ("$sip", sipCallId), ("$id", call.Id));
                await _sipCallId.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        private async Task DropStaleLegsAsync(TrackedCall call, CancellationToken cancellationToken)
        {
            Set(_dropStale, ("$id", call.Id), ("$items", JsonSerializer.Serialize(call.Legs.Select(l => l.ItemId))),
                ("$sips", JsonSerializer.Serialize(call.Legs.Select(l => l.Item.CallId).OfType<string>())));
            await _dropStale.ExecuteNonQueryAsync(cancellationToken);
        }

        /// <summary>Appends the event to the log; returns its position.</summary>
        public async Task<long> AppendAsync(CallEvent e, CancellationToken cancellationToken)
        {
            Set(_append, ("$call", e.Call.Id), ("$sequence", e.Sequence), ("$json", TrackedCallJson.Serialize(e)));
            return (long)(await _append.ExecuteScalarAsync(cancellationToken))!;
        }

        public void Dispose()
        {
            _rewrite.Dispose();
            _insert.Dispose();
            _upsert.Dispose();
            _dropStale.Dispose();
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
