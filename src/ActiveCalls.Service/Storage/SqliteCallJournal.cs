using System.Text.Json;
using ActiveCalls.Sip.CallControl;

namespace ActiveCalls.Service.Storage;

/// <summary>The SIP engine's <see cref="ICallJournal"/> in the <c>calls</c> table: one row per call, its
/// <see cref="CallRecord"/> (dialog snapshots, pending INVITEs) as JSON, replaced at each checkpoint.</summary>
public sealed class SqliteCallJournal(ServiceDatabase database) : ICallJournal
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public void Save(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        database.Execute("INSERT INTO calls (id, json) VALUES ($id, $json) ON CONFLICT (id) DO UPDATE SET json = excluded.json;",
            ("$id", call.Id), ("$json", JsonSerializer.Serialize(call, Json)));
    }

    public void Remove(string callId) => database.Execute("DELETE FROM calls WHERE id = $id;", ("$id", callId));

    /// <summary>The calls journalled and not removed: after a crash, those a previous run left up.</summary>
    public IReadOnlyList<CallRecord> Load() =>
        database.Query("SELECT json FROM calls ORDER BY rowid;", r => JsonSerializer.Deserialize<CallRecord>(r.GetString(0), Json)!);
}
