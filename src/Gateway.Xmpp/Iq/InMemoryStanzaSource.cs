using System.Xml.Linq;

namespace Gateway.Xmpp.Iq;

/// <summary>An <see cref="IStanzaSource"/> fed by code rather than a socket: <see cref="DeliverAsync"/> hands a stanza to
/// every subscription whose filter accepts it, waiting when one is full (as the reader loop does). For fakes and adapters.</summary>
public sealed class InMemoryStanzaSource : IStanzaSource
{
    private readonly Lock _gate = new();
    private readonly List<StanzaSubscription> _subscriptions = [];

    public StanzaSubscription Subscribe(Func<XElement, bool> filter, int capacity = 1024)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var subscription = new StanzaSubscription(filter, capacity, s => { lock (_gate) _subscriptions.Remove(s); });
        lock (_gate) _subscriptions.Add(subscription);
        return subscription;
    }

    /// <summary>Subscriptions currently open.</summary>
    public int Count { get { lock (_gate) return _subscriptions.Count; } }

    public async ValueTask DeliverAsync(XElement stanza, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stanza);
        StanzaSubscription[] targets;
        lock (_gate) targets = [.. _subscriptions];
        foreach (var subscription in targets)
        {
            if (!subscription.Filter(stanza)) continue;
            try { await subscription.Writer.WriteAsync(new XElement(stanza), cancellationToken).ConfigureAwait(false); }
            catch (System.Threading.Channels.ChannelClosedException) { /* unsubscribed meanwhile */ }
        }
    }
}
