using System.Globalization;
using System.Xml.Linq;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// A scripted OnSIP for the events feature: the Auth component (<c>authorize-plain</c>) and the Active-Calls PubSub
/// service (subscriptions list / subscribe answered <c>pending</c> then a <c>subscribed</c> message / options /
/// unsubscribe / items), shared by any number of <see cref="Connection"/>s (pooled connections of one account).
/// </summary>
public sealed class FakeOnSipPeer(TimeProvider time)
{
    public const string Auth = "commands.auth.example.com";
    public const string PubSub = "pubsub.active-calls.example.com";
    private static readonly XNamespace PubSubNs = "http://jabber.org/protocol/pubsub";
    private static readonly XNamespace EventNs = "http://jabber.org/protocol/pubsub#event";
    private static readonly XNamespace Commands = "http://jabber.org/protocol/commands";
    private static readonly XNamespace Data = "jabber:x:data";

    private readonly Lock _gate = new();
    private readonly List<(Jid To, XElement Payload)> _requests = [];
    private readonly Dictionary<Jid, Connection> _connections = [];
    private int _subIds;

    /// <summary>What authorize-plain answers as <c>expires</c>.</summary>
    public TimeSpan AuthLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>SIP users whose web password authorize-plain checks, with the addresses it then lists (their owner's). A
    /// SIP address not in here is authorised, whatever the password, for alice@ and bob@example.com.</summary>
    public Dictionary<string, (string Password, string[] Covers)> Accounts { get; } = [];

    /// <summary>Whether a subscribe is confirmed by a <c>subscribed</c> message (OnSIP does).</summary>
    public bool ConfirmSubscriptions { get; set; } = true;

    /// <summary>The subscriptions the service holds (node /me/bare).</summary>
    public List<(Jid Jid, string SubId, string State)> Subscriptions { get; } = [];

    /// <summary>What a fetch of the collection's items returns: (item id, leaf node, payload).</summary>
    public List<(string Id, string Node, ActiveCallItem Item)> CurrentItems { get; } = [];

    public Connection Connect(string fullJid)
    {
        var connection = new Connection(this, Jid.Parse(fullJid));
        lock (_gate) _connections[connection.LocalJid!] = connection;
        return connection;
    }

    /// <summary>Requests received, as (connection, payload).</summary>
    public IReadOnlyList<(Jid From, XElement Payload)> Requests { get { lock (_gate) return [.. _requests]; } }

    public IReadOnlyList<string> Operations(Jid? from = null) =>
        [.. Requests.Where(r => from is null || r.From == from).Select(r => r.Payload.Name.LocalName == "command"
            ? "command " + (string?)r.Payload.Attribute("node")
            : r.Payload.Elements().First().Name.LocalName + " " + (string?)r.Payload.Elements().First().Attribute("jid"))];

    /// <summary>Sends <c>items</c> with one item per entry (in order) to <paramref name="to"/>.</summary>
    public ValueTask PublishAsync(Connection to, params (string Id, string Node, ActiveCallItem Item)[] items) =>
        to.Stanzas.DeliverAsync(Message(to.LocalJid!, new XElement(EventNs + "items", new XAttribute("node", items[0].Node),
            items.Select(i => new XElement(EventNs + "item", new XAttribute("id", i.Id), i.Item.ToXml())))));

    public ValueTask RetractAsync(Connection to, string node, params string[] ids) =>
        to.Stanzas.DeliverAsync(Message(to.LocalJid!, new XElement(EventNs + "items", new XAttribute("node", node),
            ids.Select(id => new XElement(EventNs + "retract", new XAttribute("id", id))))));

    private static XElement Message(Jid to, XElement content) =>
        new("message", new XAttribute("from", PubSub), new XAttribute("to", to.ToString()), new XElement(EventNs + "event", content));

    private XElement Handle(Connection from, Jid? to, XElement payload)
    {
        lock (_gate) _requests.Add((from.LocalJid!, new XElement(payload)));
        if (to?.ToString() == Auth && payload.Name == Commands + "command")
        {
            var expires = (time.GetUtcNow() + AuthLifetime).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var fields = payload.Descendants(Data + "field").ToDictionary(f => (string)f.Attribute("var")!, f => (string?)f.Element(Data + "value"));
            string[] covers = ["alice@example.com", "bob@example.com"];
            lock (_gate)
            {
                if (Accounts.TryGetValue(fields["sip-address"] ?? "", out var account))
                {
                    if (account.Password != fields["password"])
                        return new XElement("iq", new XAttribute("type", "error"), new XElement("error", new XAttribute("type", "modify"),
                            new XElement(XName.Get("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")),
                            new XElement(XName.Get("text", "urn:ietf:params:xml:ns:xmpp-stanzas"),
                                "Execution Errors; base Authentication failed - invalid username or password.; missing response"),
                            new XElement(Commands + "bad-action")));
                    covers = account.Covers;
                }
            }
            return Result(new XElement(Commands + "command", new XAttribute("node", "authorize-plain"), new XAttribute("status", "completed"),
                new XElement(Data + "x", new XAttribute("type", "result"),
                    new XElement(Data + "field", new XAttribute("var", "expires"), new XElement(Data + "value", expires)),
                    covers.Select(c => new XElement(Data + "field", new XAttribute("var", "sip"), new XElement(Data + "value", c))))));
        }
        if (to?.ToString() != PubSub || payload.Name != PubSubNs + "pubsub") throw new InvalidOperationException("unexpected IQ " + payload);
        var op = payload.Elements().First();
        var node = (string?)op.Attribute("node");
        lock (_gate)
        {
            switch (op.Name.LocalName)
            {
                case "subscriptions":
                    return Result(new XElement(PubSubNs + "pubsub", new XElement(PubSubNs + "subscriptions", new XAttribute("node", node!),
                        Subscriptions.Select(s => new XElement(PubSubNs + "subscription", new XAttribute("jid", s.Jid.ToString()),
                            new XAttribute("subid", s.SubId), new XAttribute("subscription", s.State))))));
                case "subscribe":
                {
                    var jid = Jid.Parse((string)op.Attribute("jid")!);
                    var subId = "sub" + ++_subIds;
                    Subscriptions.Add((jid, subId, ConfirmSubscriptions ? "subscribed" : "pending"));
                    if (ConfirmSubscriptions && _connections.TryGetValue(jid, out var target))
                    {
                        var message = Message(jid, new XElement(EventNs + "subscription", new XAttribute("node", node!),
                            new XAttribute("jid", jid.ToString()), new XAttribute("subid", subId), new XAttribute("subscription", "subscribed")));
                        _ = Task.Run(async () => { await Task.Delay(20); await target.Stanzas.DeliverAsync(message); });
                    }
                    return Result(new XElement(PubSubNs + "pubsub", new XElement(PubSubNs + "subscription", new XAttribute("node", node!),
                        new XAttribute("jid", jid.ToString()), new XAttribute("subid", subId), new XAttribute("subscription", "pending"))));
                }
                case "options":
                case "unsubscribe":
                {
                    var jid = Jid.Parse((string)op.Attribute("jid")!);
                    var index = Subscriptions.FindIndex(s => s.Jid == jid && s.SubId == (string?)op.Attribute("subid"));
                    if (index < 0) return Error("cancel", "item-not-found");
                    if (op.Name.LocalName == "unsubscribe") Subscriptions.RemoveAt(index);
                    return Result(null);
                }
                case "items":
                    return Result(new XElement(PubSubNs + "pubsub", new XElement(PubSubNs + "items", new XAttribute("node", node!),
                        CurrentItems.Select(i => new XElement(PubSubNs + "item", new XAttribute("id", i.Id), new XAttribute("node", i.Node), i.Item.ToXml())))));
                default:
                    return Error("cancel", "feature-not-implemented");
            }
        }
    }

    private static XElement Result(XElement? content) => new("iq", new XAttribute("type", "result"), content);

    private static XElement Error(string type, string condition) =>
        new("iq", new XAttribute("type", "error"), new XElement("error", new XAttribute("type", type), new XElement(XName.Get(condition, "urn:ietf:params:xml:ns:xmpp-stanzas"))));

    /// <summary>One pooled connection of the account.</summary>
    public sealed class Connection(FakeOnSipPeer peer, Jid jid) : IEventConnection
    {
        public InMemoryStanzaSource Stanzas { get; } = new();

        public Jid? LocalJid { get; } = jid;

        public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var reply = peer.Handle(this, to, XElement.Parse(payload.ToString(SaveOptions.DisableFormatting)));
            if ((string?)reply.Attribute("type") == "error") throw new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply);
            return Task.FromResult(reply);
        }

        public StanzaSubscription Subscribe(Func<XElement, bool> filter, int capacity = 1024) => Stanzas.Subscribe(filter, capacity);
    }
}
