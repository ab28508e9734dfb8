using ActiveCalls.Service.PubSub;
using Gateway.Xmpp.Core;
using static ActiveCalls.Service.Storage.ServiceDatabase;

namespace ActiveCalls.Service.Storage;

/// <summary><see cref="ISubscriptionStore"/> in the <c>subscriptions</c> table: one row per subid with its settings.</summary>
public sealed class SqliteSubscriptionStore(ServiceDatabase database) : ISubscriptionStore
{
    public void Save(PubSubSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var settings = subscription.Settings;
        database.Execute(
            "INSERT INTO subscriptions (subid, node, jid, deliver, depth, expires) VALUES ($subid, $node, $jid, $deliver, $depth, $expires) " +
            "ON CONFLICT (subid) DO UPDATE SET node = excluded.node, jid = excluded.jid, deliver = excluded.deliver, depth = excluded.depth, expires = excluded.expires;",
            ("$subid", subscription.SubId), ("$node", subscription.Node), ("$jid", subscription.Jid.ToString()), ("$deliver", settings.Deliver),
            ("$depth", settings.Depth), ("$expires", Ticks(settings.Expires)));
    }

    public void Delete(string subId) => database.Execute("DELETE FROM subscriptions WHERE subid = $subid;", ("$subid", subId));

    public IReadOnlyList<PubSubSubscription> Load() =>
        database.Query("SELECT node, jid, subid, deliver, depth, expires FROM subscriptions ORDER BY rowid;",
            r => new PubSubSubscription(r.GetString(0), Jid.Parse(r.GetString(1)), r.GetString(2),
                new SubscriptionSettings(r.GetBoolean(3), r.GetString(4), FromTicks(r.GetInt64(5)))));
}
