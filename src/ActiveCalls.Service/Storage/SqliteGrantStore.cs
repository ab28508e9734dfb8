using ActiveCalls.Service.Auth;
using Gateway.Xmpp.Core;
using static ActiveCalls.Service.Storage.ServiceDatabase;

namespace ActiveCalls.Service.Storage;

/// <summary><see cref="IGrantStore"/> in the <c>grants</c> table: one row per bare JID and address.</summary>
public sealed class SqliteGrantStore(ServiceDatabase database) : IGrantStore
{
    public void Save(StoredGrant grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        database.Execute(
            "INSERT INTO grants (jid, address, expires) VALUES ($jid, $address, $expires) ON CONFLICT (jid, address) DO UPDATE SET expires = excluded.expires;",
            ("$jid", grant.Jid.Bare.ToString()), ("$address", grant.Address), ("$expires", Ticks(grant.Expires)));
    }

    public void Delete(Jid jid, string address) =>
        database.Execute("DELETE FROM grants WHERE jid = $jid AND address = $address;", ("$jid", jid.Bare.ToString()), ("$address", address));

    public IReadOnlyList<StoredGrant> Load() =>
        database.Query("SELECT jid, address, expires FROM grants ORDER BY rowid;",
            r => new StoredGrant(Jid.Parse(r.GetString(0)), r.GetString(1), FromTicks(r.GetInt64(2))));
}
