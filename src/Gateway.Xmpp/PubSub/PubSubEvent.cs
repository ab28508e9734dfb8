using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.PubSub;

/// <summary>
/// A XEP-0060 notification, parsed from a <c>&lt;message/&gt;</c> carrying <c>{http://jabber.org/protocol/pubsub#event}event</c>.
/// A closed hierarchy: <see cref="ItemsPublished"/>, <see cref="ItemsRetracted"/>, <see cref="SubscriptionChanged"/>,
/// <see cref="NodeDeleted"/>, <see cref="NodePurged"/>.
/// </summary>
public abstract record PubSubEvent
{
    private PubSubEvent(Jid service, string node)
    {
        Service = service;
        Node = node;
    }

    /// <summary>The service the notification came from (the message's <c>from</c>).</summary>
    public Jid Service { get; }

    /// <summary>The node the event is about: for items, the leaf node (<c>item@node</c> overriding <c>items@node</c>).</summary>
    public string Node { get; }

    /// <summary>Items published (or re-published: OnSIP's <c>confirmed</c> reuses the item id of the <c>requested</c>/<c>created</c> one).</summary>
    /// <param name="Collection">The SHIM <c>Collection</c> header: the collection node the subscription matched through (XEP-0248).</param>
    /// <param name="SubIds">The SHIM <c>SubID</c> headers, when the subscriber has several subscriptions.</param>
    public sealed record ItemsPublished(Jid Service, string Node, IReadOnlyList<PubSubItem> Items, string? Collection, IReadOnlyList<string> SubIds)
        : PubSubEvent(Service, Node);

    /// <summary>Items retracted. OnSIP retracts carry no payload: the end of a call is known only by its item id.</summary>
    public sealed record ItemsRetracted(Jid Service, string Node, IReadOnlyList<string> ItemIds, string? Collection, IReadOnlyList<string> SubIds)
        : PubSubEvent(Service, Node);

    /// <summary>A subscription's state changed, e.g. OnSIP's <c>pending → subscribed</c> confirmation, or <c>none</c>.</summary>
    /// <param name="Node">The node (empty if the notification named none).</param>
    public sealed record SubscriptionChanged(Jid Service, string Node, Jid Jid, SubscriptionState State, string? SubId)
        : PubSubEvent(Service, Node);

    /// <summary>The node was deleted, possibly naming a replacement (<c>&lt;redirect uri/&gt;</c>).</summary>
    public sealed record NodeDeleted(Jid Service, string Node, string? RedirectUri) : PubSubEvent(Service, Node)
    {
        /// <summary><see cref="RedirectUri"/> parsed as an XEP-0147 URI, or null.</summary>
        public PubSubAddress? RedirectAddress => PubSubAddress.TryParseXmppUri(RedirectUri, out var address) ? address : null;
    }

    /// <summary>All the node's items were purged.</summary>
    public sealed record NodePurged(Jid Service, string Node) : PubSubEvent(Service, Node);

    /// <summary>
    /// Every event a message carries, in document order. Each <c>&lt;item/&gt;</c> and <c>&lt;retract/&gt;</c> of an
    /// <c>&lt;items/&gt;</c> is reported; consecutive ones of the same kind and node are grouped into one event.
    /// SHIM headers may come before or after <c>&lt;event/&gt;</c>. Returns nothing for <c>type="error"</c> messages, messages
    /// without a valid <c>from</c> or without an event; malformed parts (an item without node, a retract without id, an
    /// unknown subscription state) are skipped rather than thrown, because this runs on the event feed.
    /// </summary>
    public static IReadOnlyList<PubSubEvent> Parse(XElement message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Name.LocalName != "message" || (string?)message.Attribute("type") == "error") return [];
        if (!Jid.TryParse((string?)message.Attribute("from"), out var service) || service is null) return [];

        XElement? eventElement = null;
        string? collection = null;
        List<string>? subIds = null;
        foreach (var child in message.Elements())
        {
            if (child.Name == Ns.PubSubEvent + "event")
            {
                eventElement ??= child;
            }
            else if (child.Name == Ns.Shim + "headers")
            {
                foreach (var header in child.Elements(Ns.Shim + "header"))
                {
                    var name = (string?)header.Attribute("name");
                    var value = header.Value.Trim();
                    if (value.Length == 0) continue;
                    if (string.Equals(name, "Collection", StringComparison.OrdinalIgnoreCase)) collection ??= value;
                    else if (string.Equals(name, "SubID", StringComparison.OrdinalIgnoreCase)) (subIds ??= []).Add(value);
                }
            }
        }
        if (eventElement is null) return [];

        IReadOnlyList<string> subIdList = subIds ?? (IReadOnlyList<string>)[];
        var events = new List<PubSubEvent>();
        foreach (var op in eventElement.Elements())
        {
            if (op.Name.Namespace != Ns.PubSubEvent) continue;
            var node = (string?)op.Attribute("node");
            switch (op.Name.LocalName)
            {
                case "items":
                    ReadItems(op, node, service, collection, subIdList, events);
                    break;
                case "subscription":
                    if (Jid.TryParse((string?)op.Attribute("jid"), out var jid) && jid is not null
                        && PubSubClient.TryParseState((string?)op.Attribute("subscription"), out var state))
                        events.Add(new SubscriptionChanged(service, node ?? "", jid, state, (string?)op.Attribute("subid")));
                    break;
                case "delete" when node is not null:
                    events.Add(new NodeDeleted(service, node, (string?)op.Element(Ns.PubSubEvent + "redirect")?.Attribute("uri")));
                    break;
                case "purge" when node is not null:
                    events.Add(new NodePurged(service, node));
                    break;
            }
        }
        return events;
    }

    private static void ReadItems(XElement items, string? itemsNode, Jid service, string? collection, IReadOnlyList<string> subIds, List<PubSubEvent> events)
    {
        // Runs of consecutive <item/> (or <retract/>) with the same effective node become one event.
        List<PubSubItem>? published = null;
        List<string>? retracted = null;
        string? runNode = null;

        void Flush()
        {
            if (published is not null) events.Add(new ItemsPublished(service, runNode!, published, collection, subIds));
            if (retracted is not null) events.Add(new ItemsRetracted(service, runNode!, retracted, collection, subIds));
            published = null;
            retracted = null;
        }

        foreach (var child in items.Elements())
        {
            if (child.Name.Namespace != Ns.PubSubEvent) continue;
            var node = (string?)child.Attribute("node") ?? itemsNode;
            if (node is null) continue;
            switch (child.Name.LocalName)
            {
                case "item":
                    if (retracted is not null || (published is not null && node != runNode)) Flush();
                    runNode = node;
                    (published ??= []).Add(PubSubClient.ReadItem(child, node));
                    break;
                case "retract":
                    if ((string?)child.Attribute("id") is not { Length: > 0 } id) continue;
                    if (published is not null || (retracted is not null && node != runNode)) Flush();
                    runNode = node;
                    (retracted ??= []).Add(id);
                    break;
            }
        }
        Flush();
    }
}
