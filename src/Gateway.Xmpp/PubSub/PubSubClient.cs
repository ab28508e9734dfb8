using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.PubSub;

/// <summary>
/// The XEP-0060 subscriber side: subscribe (with options), list, renew, unsubscribe and fetch items, following
/// <c>redirect</c>/<c>gone</c> errors that carry an XEP-0147 URI (OnSIP redirects <c>/</c> to <c>/me/&lt;jid&gt;</c>).
/// </summary>
public sealed class PubSubClient(IIqSender sender)
{
    /// <summary>How many redirects one request follows before giving up (OXJS's limit).</summary>
    public const int MaxRedirects = 5;

    private readonly IIqSender _sender = sender ?? throw new ArgumentNullException(nameof(sender));

    /// <summary>
    /// Subscribes <paramref name="subscriberJid"/> to <paramref name="node"/>. OnSIP wants the full JID here and answers
    /// <see cref="SubscriptionState.Pending"/>; the <c>subscribed</c> confirmation arrives later as an event message.
    /// </summary>
    /// <returns>The subscription; <see cref="Subscription.Node"/> and <see cref="Subscription.Service"/> are where the request
    /// finally landed. An empty IQ result is reported as <see cref="SubscriptionState.Subscribed"/>.</returns>
    public async Task<Subscription> SubscribeAsync(
        Jid service, string node, Jid subscriberJid, SubscribeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriberJid);
        ArgumentException.ThrowIfNullOrEmpty(node);
        var form = options?.ToForm();
        var (reply, final) = await SendAsync(new PubSubAddress(service, node), IqType.Set, target => PubSub(
            new XElement(Ns.PubSub + "subscribe", new XAttribute("node", target.Node!), new XAttribute("jid", subscriberJid)),
            form is null ? null : new XElement(Ns.PubSub + "options", new XElement(form))), cancellationToken).ConfigureAwait(false);

        var element = reply.Element(Ns.PubSub + "pubsub")?.Element(Ns.PubSub + "subscription");
        if (element is null)
            return new Subscription(final.Node!, subscriberJid, null, SubscriptionState.Subscribed) { Service = final.Service };
        return ReadSubscription(element, final.Node, subscriberJid, final.Service)
            ?? throw new XmppProtocolException($"Malformed subscribe result: {element}");
    }

    /// <summary>Lists our subscriptions on <paramref name="node"/>, or service-wide when null. Entries without a
    /// <c>node</c> attribute take the (final) requested node; entries that still have no node or no jid are skipped.</summary>
    public async Task<IReadOnlyList<Subscription>> GetSubscriptionsAsync(Jid service, string? node = null, CancellationToken cancellationToken = default)
    {
        var (reply, final) = await SendAsync(new PubSubAddress(service, node), IqType.Get, target => PubSub(
            new XElement(Ns.PubSub + "subscriptions", target.Node is null ? null : new XAttribute("node", target.Node))), cancellationToken).ConfigureAwait(false);

        var list = reply.Element(Ns.PubSub + "pubsub")?.Element(Ns.PubSub + "subscriptions");
        if (list is null) return [];
        var fallbackNode = (string?)list.Attribute("node") ?? final.Node;
        var result = new List<Subscription>();
        foreach (var element in list.Elements(Ns.PubSub + "subscription"))
        {
            if (ReadSubscription(element, fallbackNode, null, final.Service) is { } subscription) result.Add(subscription);
        }
        return result;
    }

    /// <summary>Configures an existing subscription (<c>&lt;options node jid subid&gt;</c>), e.g. to renew its expiry, which
    /// OnSIP recommends over subscribing again (10 subscriptions per node per JID at most).</summary>
    /// <returns>Where the request finally landed.</returns>
    public async Task<PubSubAddress> SetOptionsAsync(
        Jid service, string node, Jid jid, string? subId, SubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(node);
        var form = options.ToForm();
        var (_, final) = await SendAsync(new PubSubAddress(service, node), IqType.Set, target => PubSub(
            new XElement(Ns.PubSub + "options",
                new XAttribute("node", target.Node!),
                new XAttribute("jid", jid),
                subId is null ? null : new XAttribute("subid", subId),
                new XElement(form))), cancellationToken).ConfigureAwait(false);
        return final;
    }

    /// <summary>Removes a subscription.</summary>
    /// <returns>Where the request finally landed.</returns>
    public async Task<PubSubAddress> UnsubscribeAsync(Jid service, string node, Jid jid, string? subId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentException.ThrowIfNullOrEmpty(node);
        var (_, final) = await SendAsync(new PubSubAddress(service, node), IqType.Set, target => PubSub(
            new XElement(Ns.PubSub + "unsubscribe",
                new XAttribute("node", target.Node!),
                new XAttribute("jid", jid),
                subId is null ? null : new XAttribute("subid", subId))), cancellationToken).ConfigureAwait(false);
        return final;
    }

    /// <summary>Fetches the node's current items (<c>&lt;items node max_items/&gt;</c>).</summary>
    public async Task<IReadOnlyList<PubSubItem>> GetItemsAsync(Jid service, string node, int? maxItems = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        if (maxItems is <= 0) throw new ArgumentOutOfRangeException(nameof(maxItems), maxItems, "max_items must be positive.");
        var (reply, final) = await SendAsync(new PubSubAddress(service, node), IqType.Get, target => PubSub(
            new XElement(Ns.PubSub + "items",
                new XAttribute("node", target.Node!),
                maxItems is { } max ? new XAttribute("max_items", max.ToString(CultureInfo.InvariantCulture)) : null)), cancellationToken).ConfigureAwait(false);

        var items = reply.Element(Ns.PubSub + "pubsub")?.Element(Ns.PubSub + "items");
        if (items is null) return [];
        var itemsNode = (string?)items.Attribute("node") ?? final.Node!;
        return [.. items.Elements(Ns.PubSub + "item").Select(item => ReadItem(item, itemsNode))];
    }

    internal static PubSubItem ReadItem(XElement item, string itemsNode)
    {
        var payload = item.Elements().FirstOrDefault();
        return new PubSubItem(
            (string?)item.Attribute("id") ?? "",
            (string?)item.Attribute("node") ?? itemsNode,
            payload is null ? null : new XElement(payload));
    }

    /// <summary>Reads a <c>&lt;subscription/&gt;</c>; null when it lacks a node/jid (and no fallback) or has an unknown state.</summary>
    internal static Subscription? ReadSubscription(XElement element, string? fallbackNode, Jid? fallbackJid, Jid? service)
    {
        var node = (string?)element.Attribute("node") ?? fallbackNode;
        var jid = Jid.TryParse((string?)element.Attribute("jid"), out var parsed) ? parsed : fallbackJid;
        var stateText = (string?)element.Attribute("subscription");
        if (node is null || jid is null) return null;
        SubscriptionState state;
        if (stateText is null) state = SubscriptionState.Subscribed;
        else if (!TryParseState(stateText, out state)) return null;
        DateTimeOffset? expiry = DateTimeOffset.TryParse((string?)element.Attribute("expiry"), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var e) ? e : null;
        return new Subscription(node, jid, (string?)element.Attribute("subid"), state) { Service = service, Expiry = expiry };
    }

    internal static bool TryParseState(string? text, out SubscriptionState state)
    {
        switch (text)
        {
            case "none": state = SubscriptionState.None; return true;
            case "pending": state = SubscriptionState.Pending; return true;
            case "unconfigured": state = SubscriptionState.Unconfigured; return true;
            case "subscribed": state = SubscriptionState.Subscribed; return true;
            default: state = SubscriptionState.None; return false;
        }
    }

    private static XElement PubSub(params object?[] content) => new(Ns.PubSub + "pubsub", content);

    /// <summary>Sends the request built for <paramref name="target"/>, re-building and re-sending it to the address named by a
    /// <c>redirect</c> or <c>gone</c> error (a URI without <c>node</c> keeps the current node), at most <see cref="MaxRedirects"/> times.</summary>
    private async Task<(XElement Reply, PubSubAddress Final)> SendAsync(
        PubSubAddress target, IqType type, Func<PubSubAddress, XElement> build, CancellationToken cancellationToken)
    {
        var current = target;
        List<PubSubAddress>? hops = null;
        while (true)
        {
            try
            {
                return (await _sender.SendIqAsync(current.Service, type, build(current), null, cancellationToken).ConfigureAwait(false), current);
            }
            catch (XmppStanzaErrorException ex) when (TryGetRedirect(ex.Error, out var next))
            {
                hops ??= [];
                if (hops.Count >= MaxRedirects) throw new PubSubRedirectLimitException(target, hops, ex);
                current = next.Node is null ? next with { Node = current.Node } : next;
                hops.Add(current);
            }
        }
    }

    private static bool TryGetRedirect(StanzaError error, [NotNullWhen(true)] out PubSubAddress? next)
    {
        next = null;
        return error.Condition is "redirect" or "gone" && PubSubAddress.TryParseXmppUri(error.ConditionText, out next);
    }
}
