using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.PubSub;

/// <summary>
/// The PubSub notifications one service sends us, as <see cref="PubSubEvent"/>s. Subscribes to the stanza source on
/// construction (so nothing is missed before the first read) for messages from the service itself (its bare address,
/// any resource) that carry a <c>{http://jabber.org/protocol/pubsub#event}event</c> child, whether or not they also carry
/// a body. Anyone on the server can send us a message shaped like an event; the server stamps the true sender in
/// <c>from</c>, so only that check keeps forged events out of call state.
/// Dispose to unsubscribe; <see cref="ReadAllAsync"/> then completes.
/// </summary>
public sealed class PubSubEventReader : IDisposable
{
    private static readonly XName EventName = Ns.PubSubEvent + "event";
    private readonly StanzaSubscription _subscription;

    public PubSubEventReader(IStanzaSource source, Jid service, int capacity = 1024)
    {
        ArgumentNullException.ThrowIfNull(source);
        Service = service ?? throw new ArgumentNullException(nameof(service));
        var bare = service.Bare.ToString();
        _subscription = source.Subscribe(stanza => IsEventFrom(stanza, bare), capacity);
    }

    public Jid Service { get; }

    /// <summary>Events in arrival order (and document order within a message). Meant for a single consumer.</summary>
    public async IAsyncEnumerable<PubSubEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var stanza in _subscription.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var pubSubEvent in PubSubEvent.Parse(stanza)) yield return pubSubEvent;
        }
    }

    public void Dispose() => _subscription.Dispose();

    /// <summary>The reader-loop filter: attribute and direct-child checks only, no parsing or allocation.</summary>
    internal static bool IsEventFrom(XElement stanza, string service)
    {
        if (stanza.Name.LocalName != "message") return false;
        var from = stanza.Attribute("from")?.Value;
        if (from is null) return false;
        var bare = from.AsSpan();
        var slash = bare.IndexOf('/');
        if (slash >= 0) bare = bare[..slash];
        if (!bare.Equals(service, StringComparison.OrdinalIgnoreCase)) return false;
        if (stanza.Attribute("type")?.Value == "error") return false;
        return stanza.Element(EventName) is not null;
    }
}
