using System.Xml.Linq;
using ActiveCalls.Service.PubSub;
using Gateway.Xmpp.ActiveCalls;

namespace ActiveCalls.Service.Storage;

/// <summary><see cref="IItemStore"/> in the <c>items</c> table: one row per item, its payload as the
/// <c>active-call</c> XML it is published as.</summary>
public sealed class SqliteItemStore(ServiceDatabase database) : IItemStore
{
    public void Save(StoredItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        database.Execute(
            "INSERT INTO items (node, id, sequence, payload) VALUES ($node, $id, $sequence, $payload) " +
            "ON CONFLICT (node, id) DO UPDATE SET sequence = excluded.sequence, payload = excluded.payload;",
            ("$node", item.Node), ("$id", item.Id), ("$sequence", item.Sequence), ("$payload", item.Payload.ToXml().ToString(SaveOptions.DisableFormatting)));
    }

    public void Delete(string node, string itemId) =>
        database.Execute("DELETE FROM items WHERE node = $node AND id = $id;", ("$node", node), ("$id", itemId));

    public IReadOnlyList<StoredItem> Load() =>
        database.Query("SELECT node, id, payload, sequence FROM items ORDER BY sequence;",
            r => new StoredItem(r.GetString(0), r.GetString(1), ActiveCallItem.Parse(XElement.Parse(r.GetString(2))), r.GetInt64(3)));
}
