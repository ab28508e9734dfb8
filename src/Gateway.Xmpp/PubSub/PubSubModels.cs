using System.Globalization;
using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.PubSub;

/// <summary>The <c>subscription</c> attribute of a XEP-0060 <c>&lt;subscription/&gt;</c>.</summary>
public enum SubscriptionState { None, Pending, Unconfigured, Subscribed }

/// <summary>XEP-0060 <c>pubsub#subscription_type</c>: notifications about items or about nodes (XEP-0248).</summary>
public enum PubSubSubscriptionType { Items, Nodes }

/// <summary>A subscription as the service reports it.</summary>
/// <param name="Node">The node subscribed to. After redirects this is the node the request finally landed on; when the
/// service omits the attribute (as OnSIP does) it is filled from the request.</param>
/// <param name="Jid">The subscribed address.</param>
/// <param name="SubId">The subscription id, when the service issues one.</param>
/// <param name="State">The subscription state. OnSIP answers <see cref="SubscriptionState.Pending"/> first and confirms with a
/// <c>subscribed</c> event message later (see <see cref="PubSubEvent.SubscriptionChanged"/>).</param>
public sealed record Subscription(string Node, Jid Jid, string? SubId, SubscriptionState State)
{
    /// <summary>The service the subscription lives on (after redirects), when known.</summary>
    public Jid? Service { get; init; }

    /// <summary>The <c>expiry</c> attribute, when the service reports one.</summary>
    public DateTimeOffset? Expiry { get; init; }
}

/// <summary>An item as fetched or as notified.</summary>
/// <param name="Id">The item id (<c>""</c> if the service sent none). OnSIP warns the id is opaque: only its stability across
/// one call for one UA may be relied on.</param>
/// <param name="Node">The leaf node the item belongs to (<c>item@node</c> when present, else <c>items@node</c>).</param>
/// <param name="Payload">The first child element of <c>&lt;item/&gt;</c>, detached, or null for a notification without payload.</param>
public sealed record PubSubItem(string Id, string Node, XElement? Payload);

/// <summary>XEP-0060 subscription options (<c>http://jabber.org/protocol/pubsub#subscribe_options</c>), written as a
/// <c>jabber:x:data</c> submit form.</summary>
public sealed record SubscribeOptions
{
    public const string FormType = "http://jabber.org/protocol/pubsub#subscribe_options";
    public const string DepthOne = "1";
    public const string DepthAll = "all";

    /// <summary><c>pubsub#subscription_type</c>; not sent when null.</summary>
    public PubSubSubscriptionType? SubscriptionType { get; init; }

    /// <summary><c>pubsub#subscription_depth</c>: <c>"1"</c> or <c>"all"</c>; not sent when null. OnSIP's collection nodes
    /// need <c>"all"</c> to deliver events from descendant leaves.</summary>
    public string? Depth
    {
        get;
        init => field = value is null or DepthOne or DepthAll
            ? value
            : throw new ArgumentException($"Subscription depth must be \"{DepthOne}\" or \"{DepthAll}\", not '{value}'.", nameof(value));
    }

    /// <summary><c>pubsub#expire</c>, written as ISO-8601 UTC with seven fractional digits (the wiki's shape); not sent when null.</summary>
    public DateTimeOffset? Expire { get; init; }

    /// <summary>What OnSIP's documentation asks for on a <c>/me/&lt;jid&gt;</c> collection: items, depth all, and an expiry.</summary>
    public static SubscribeOptions ForCollection(DateTimeOffset? expire = null) =>
        new() { SubscriptionType = PubSubSubscriptionType.Items, Depth = DepthAll, Expire = expire };

    internal static string FormatExpire(DateTimeOffset expire) =>
        expire.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The <c>&lt;x xmlns='jabber:x:data' type='submit'&gt;</c> form, fields in the wiki's order.</summary>
    public XElement ToForm()
    {
        var x = new XElement(Ns.DataForms + "x", new XAttribute("type", "submit"), Field("FORM_TYPE", FormType, hidden: true));
        if (SubscriptionType is { } type)
            x.Add(Field("pubsub#subscription_type", type == PubSubSubscriptionType.Items ? "items" : "nodes"));
        if (Depth is { } depth) x.Add(Field("pubsub#subscription_depth", depth));
        if (Expire is { } expire) x.Add(Field("pubsub#expire", FormatExpire(expire)));
        return x;
    }

    private static XElement Field(string var, string value, bool hidden = false) =>
        new(Ns.DataForms + "field",
            new XAttribute("var", var),
            hidden ? new XAttribute("type", "hidden") : null,
            new XElement(Ns.DataForms + "value", value));
}
