using System.Globalization;
using System.Security.Cryptography;
using System.Xml.Linq;
using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Hosting;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Service.PubSub;

/// <summary>A subscription held by the service. <see cref="Jid"/> is the address notifications go to (full or bare);
/// its bare JID owns the subscription.</summary>
public sealed record PubSubSubscription(string Node, Jid Jid, string SubId, SubscriptionSettings Settings)
{
    /// <summary>A subscription to the JID-level collection <c>/me/&lt;bare-jid&gt;</c> (otherwise to a leaf).</summary>
    public bool IsCollection => ActiveCallsNodes.TryParseJid(Node, out _);
    public DateTimeOffset Expires => Settings.Expires;
}

/// <summary>
/// <c>pubsub.active-calls.&lt;domain&gt;</c>: OnSIP's Active-Calls PubSub service (XEP-0060 with XEP-0248 collections).
/// </summary>
/// <remarks>
/// <para><b>Tree.</b> A leaf <c>/&lt;domain&gt;/&lt;user&gt;</c> per user of the users file, holding that address's active
/// call legs (<see cref="ActiveCallsNodeStore"/>); a collection <c>/me/&lt;bare-jid&gt;</c> per JID whose children are,
/// at every moment, the leaves that JID is authorised for in the <see cref="IAuthorizationStore"/> (evaluated when a
/// request or a notification needs it, so it follows grants and expiries without bookkeeping). Requests on <c>/</c>
/// (or a subscribe without node) are redirected to the requester's <c>/me/&lt;bare-jid&gt;</c> with a <c>redirect</c>
/// error of type <c>modify</c> carrying an XEP-0147 URI, which OXJS and our <see cref="PubSubClient"/> follow. The
/// per-domain collections <c>/&lt;domain&gt;</c> and <c>/me/&lt;jid&gt;/&lt;domain&gt;</c> of OnSIP's other services are not
/// offered (item-not-found).</para>
/// <para><b>Access.</b> Subscribing, listing subscriptions, reading or changing options and fetching items need an
/// authorisation: for a leaf, for its address; for <c>/me/&lt;own-bare-jid&gt;</c>, for any address; another JID's
/// collection is always <c>forbidden</c>. Unsubscribing needs none (anyone may drop their own subscription).
/// Notifications check authorisation again when they are sent, so a lapsed grant stops delivery at once and a renewed
/// grant resumes it on the same subscription.</para>
/// <para><b>Subscriptions.</b> The subscription <c>jid</c> must carry the requester's bare JID (else <c>bad-request</c> +
/// <c>invalid-jid</c>). Answered <c>pending</c> (as OnSIP does), then a <c>subscribed</c> event message is sent right after
/// the IQ result. Subscribing again with the same JID to the same node renews that subscription (same subid) instead of
/// adding one; beyond <see cref="ActiveCallsServiceOptions.MaxSubscriptionsPerNode"/> per node and bare JID the answer is
/// XEP-0060 §6.1.3.9's <c>policy-violation</c> + <c>too-many-subscriptions</c> (type <c>wait</c>). Leases follow
/// <see cref="SubscriptionSettings.Apply"/>; expired subscriptions stop receiving at once and are dropped.</para>
/// <para><b>Notifications.</b> One message per matching subscription (XEP-0060: a subscriber with several subscriptions
/// gets a notification for each; they go to different resources or through different nodes), to the subscription's JID:
/// leaf subscribers always (depth does not apply to a leaf), collection subscribers when their depth is <c>all</c>. Items
/// and retracts name the leaf in <c>items@node</c>; a collection subscription adds the SHIM <c>Collection</c> header,
/// and a <c>SubID</c> header is added when the bare JID holds more than one subscription on that node.</para>
/// <para><b>Items.</b> <c>items</c> on a leaf returns its current items; on <c>/me/&lt;jid&gt;</c> the items of every
/// authorised leaf, each <c>&lt;item&gt;</c> carrying its leaf in a <c>node</c> attribute (as XEP-0248 collection
/// notifications do), oldest publication first.</para>
/// </remarks>
public sealed class ActiveCallsPubSubComponent : IDisposable
{
    public const string RootNode = "/";
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private static readonly string[] Features =
    [
        Ns.DiscoInfo.NamespaceName,
        Ns.DiscoItems.NamespaceName,
        Ns.PubSub.NamespaceName,
        Ns.Shim.NamespaceName,
        .. new[]
        {
            "collections", "subscribe", "subscription-options", "subscription-notifications", "retrieve-items",
            "retrieve-subscriptions", "retrieve-default-sub", "multi-subscribe", "leased-subscription", "item-ids",
            "persistent-items",
        }.Select(f => Ns.PubSub.NamespaceName + "#" + f),
    ];

    private readonly IAuthorizationStore _auth;
    private readonly ActiveCallsServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Dictionary<string, PubSubSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _publishing = new(1, 1);
    private readonly ITimer _sweeper;
    private readonly ISubscriptionStore? _persisted;
    private volatile Func<XElement, CancellationToken, Task>? _send;

    public ActiveCallsPubSubComponent(ActiveCallsNodeStore store, IAuthorizationStore authorizations, ActiveCallsServiceOptions options,
        TimeProvider? timeProvider = null, ILogger<ActiveCallsPubSubComponent>? logger = null, ISubscriptionStore? persisted = null)
    {
        _persisted = persisted;
        foreach (var subscription in persisted?.Load() ?? []) _subscriptions[subscription.SubId] = subscription;
        Store = store ?? throw new ArgumentNullException(nameof(store));
        _auth = authorizations ?? throw new ArgumentNullException(nameof(authorizations));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _sweeper = _time.CreateTimer(static state => ((ActiveCallsPubSubComponent)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    /// <summary>The service's address, <c>pubsub.active-calls.&lt;domain&gt;</c>.</summary>
    public Jid Jid => _options.PubSubJid;

    /// <summary>The leaves and their items.</summary>
    public ActiveCallsNodeStore Store { get; }

    /// <summary>The subscriptions in force now.</summary>
    public IReadOnlyList<PubSubSubscription> Subscriptions
    {
        get
        {
            lock (_gate)
            {
                PruneLocked(_time.GetUtcNow());
                return [.. _subscriptions.Values];
            }
        }
    }

    /// <summary>Serves the component's stream: PubSub get/set, disco#info and disco#items, and sends notifications over it,
    /// until disposed. Items and subscriptions belong to this object, not to the stream: they outlast reconnections.</summary>
    public IDisposable Attach(XmppConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Attach(connection, connection.SendAsync);
    }

    /// <summary>As <see cref="Attach(XmppConnection)"/>, with the handlers on <paramref name="router"/> and stanzas sent
    /// through <paramref name="send"/>.</summary>
    public IDisposable Attach(IIqRequestRouter router, Func<XElement, CancellationToken, Task> send)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(send);
        var registrations = new List<IDisposable>
        {
            router.RegisterIqHandler(IqType.Set, Ns.PubSub + "pubsub", HandleSetAsync),
            router.RegisterIqHandler(IqType.Get, Ns.PubSub + "pubsub", HandleGetAsync),
            router.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", HandleDiscoInfoAsync),
            router.RegisterIqHandler(IqType.Get, Ns.DiscoItems + "query", HandleDiscoItemsAsync),
        };
        _send = send;
        return new Detach(() =>
        {
            foreach (var registration in registrations) registration.Dispose();
            Interlocked.CompareExchange(ref _send, null, send);
        });
    }

    // ---------------------------------------------------------------- publishing

    /// <summary>Publishes (or re-publishes, same id) an item on the leaf of <paramref name="sipAddress"/> and notifies its
    /// subscribers. Returns false, publishing nothing, when the address is not a user's. Notifications that cannot be sent
    /// (the component is not connected) are logged and dropped; the item stays.</summary>
    public async Task<bool> PublishAsync(string sipAddress, string itemId, ActiveCallItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        await _publishing.WaitAsync(cancellationToken);
        try
        {
            var stored = Store.Publish(sipAddress, itemId, item);
            if (stored is null) return false;
            var address = Store.Users.TryGetAddressOfNode(stored.Node, out var a) ? a : sipAddress;
            await SendAllAsync(Notifications(stored.Node, address, () =>
                new XElement(Ns.PubSubEvent + "item", new XAttribute("id", stored.Id), stored.Payload.ToXml())), cancellationToken);
            return true;
        }
        finally
        {
            _publishing.Release();
        }
    }

    /// <summary>Retracts an item and notifies the leaf's subscribers. Returns false when there was no such item.</summary>
    public async Task<bool> RetractAsync(string sipAddress, string itemId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        await _publishing.WaitAsync(cancellationToken);
        try
        {
            var removed = Store.Retract(sipAddress, itemId);
            if (removed is null) return false;
            var address = Store.Users.TryGetAddressOfNode(removed.Node, out var a) ? a : sipAddress;
            await SendAllAsync(Notifications(removed.Node, address, () =>
                new XElement(Ns.PubSubEvent + "retract", new XAttribute("id", removed.Id))), cancellationToken);
            return true;
        }
        finally
        {
            _publishing.Release();
        }
    }

    private List<XElement> Notifications(string leaf, string address, Func<XElement> operation)
    {
        var messages = new List<XElement>();
        lock (_gate)
        {
            PruneLocked(_time.GetUtcNow());
            var all = _subscriptions.Values.ToList();
            foreach (var subscription in all)
            {
                if (!subscription.Settings.Deliver || !_auth.IsAuthorized(subscription.Jid, address)) continue;
                string? collection;
                if (subscription.Node == leaf) collection = null;
                else if (subscription.IsCollection && subscription.Settings.ReachesLeavesOfCollection) collection = subscription.Node;
                else continue;
                var shared = all.Count(s => s.Node == subscription.Node && s.Jid.Bare == subscription.Jid.Bare) > 1;
                var headers = new List<XElement>();
                if (collection is not null) headers.Add(Header("Collection", collection));
                if (shared) headers.Add(Header("SubID", subscription.SubId));
                messages.Add(new XElement("message",
                    new XAttribute("from", Jid),
                    new XAttribute("to", subscription.Jid),
                    new XElement(Ns.PubSubEvent + "event", new XElement(Ns.PubSubEvent + "items", new XAttribute("node", leaf), operation())),
                    headers.Count == 0 ? null : new XElement(Ns.Shim + "headers", headers)));
            }
        }
        return messages;
    }

    private static XElement Header(string name, string value) => new(Ns.Shim + "header", new XAttribute("name", name), value);

    private async Task SendAllAsync(List<XElement> stanzas, CancellationToken cancellationToken)
    {
        foreach (var stanza in stanzas) await SendAsync(stanza, cancellationToken);
    }

    private async Task SendAsync(XElement stanza, CancellationToken cancellationToken)
    {
        var send = _send;
        if (send is null)
        {
            _logger.LogDebug("Not sent to {To}: the PubSub component is not attached to a stream", (string?)stanza.Attribute("to"));
            return;
        }
        try { await send(stanza, cancellationToken); }
        catch (XmppConnectionLostException e)
        {
            _logger.LogWarning("A notification to {To} was dropped: {Reason}", (string?)stanza.Attribute("to"), e.Message);
        }
    }

    // ---------------------------------------------------------------- IQ handlers

    /// <summary>Handles <c>&lt;iq type='set'&gt;&lt;pubsub xmlns='http://jabber.org/protocol/pubsub'/&gt;</c>: subscribe (with
    /// options), options, unsubscribe. Publishing belongs to the service alone.</summary>
    public Task<IqResponse> HandleSetAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(Handle(request, set: true));
    }

    /// <summary>Handles <c>&lt;iq type='get'&gt;&lt;pubsub/&gt;</c>: subscriptions, items, options, default.</summary>
    public Task<IqResponse> HandleGetAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(Handle(request, set: false));
    }

    private IqResponse Handle(IqRequest request, bool set)
    {
        if (request.From is not { } requester) return IqResponse.Failure(StanzaError.BadRequest("The request has no sender."));
        var children = request.Payload.Elements().Where(e => e.Name.Namespace == Ns.PubSub).ToList();
        if (children.Count == 0) return IqResponse.Failure(StanzaError.BadRequest("Empty <pubsub/> request."));
        var op = children[0];
        try
        {
            return (set, op.Name.LocalName) switch
            {
                (true, "subscribe") => Subscribe(requester, op, children.FirstOrDefault(c => c.Name.LocalName == "options")),
                (true, "options") => SetOptions(requester, op),
                (true, "unsubscribe") => Unsubscribe(requester, op),
                (true, "publish" or "retract" or "create" or "configure" or "purge" or "delete") =>
                    Fail(PubSubErrors.Forbidden("Only the service itself publishes on Active-Calls nodes.")),
                (false, "subscriptions") => ListSubscriptions(requester, op),
                (false, "items") => Items(requester, op),
                (false, "options") => GetOptions(requester, op),
                (false, "default") => Default(requester, op),
                (_, "affiliations") => Fail(PubSubErrors.Unsupported("retrieve-affiliations")),
                _ => Fail(PubSubErrors.Unsupported(op.Name.LocalName)),
            };
        }
        catch (RequestFailedException e)
        {
            return Fail(e.Error);
        }
    }

    private IqResponse Subscribe(Jid requester, XElement subscribe, XElement? optionsElement)
    {
        var jid = SubscriberJid(requester, subscribe, mismatch: PubSubErrors.InvalidJid);
        var target = Resolve((string?)subscribe.Attribute("node") is { Length: > 0 } node ? node : RootNode, requester);
        RequireAccess(requester, target);
        var form = OptionsForm(optionsElement, required: false);

        var now = _time.GetUtcNow();
        PubSubSubscription subscription;
        bool renewed;
        lock (_gate)
        {
            PruneLocked(now);
            var existing = _subscriptions.Values.FirstOrDefault(s => s.Node == target.Node && s.Jid == jid);
            var settings = SubscriptionSettings.Apply(form, existing?.Settings ?? SubscriptionSettings.Default(now, _options.MaxSubscriptionLifetime),
                now, _options.MaxSubscriptionLifetime, out var error) ?? throw new RequestFailedException(error!);
            renewed = existing is not null;
            if (existing is null)
            {
                var held = _subscriptions.Values.Count(s => s.Node == target.Node && s.Jid.Bare == jid.Bare);
                if (held >= _options.MaxSubscriptionsPerNode)
                    throw new RequestFailedException(PubSubErrors.TooManySubscriptions(
                        $"JID '{jid.Bare}' already holds {held} subscriptions to '{target.Node}', the most allowed; reuse one (options) or unsubscribe."));
                subscription = new PubSubSubscription(target.Node, jid, NewSubId(), settings);
            }
            else
            {
                subscription = existing with { Settings = settings };
            }
            _persisted?.Save(subscription);
            _subscriptions[subscription.SubId] = subscription;
        }
        _logger.LogInformation("{Action} subscription {SubId} of {Jid} to {Node} until {Expires:o}",
            renewed ? "Renewed" : "New", subscription.SubId, jid, target.Node, subscription.Expires);

        var result = new XElement(Ns.PubSub + "pubsub", SubscriptionElement(Ns.PubSub, subscription, "pending", withNode: true));
        var confirmation = new XElement("message",
            new XAttribute("from", Jid),
            new XAttribute("to", subscription.Jid),
            new XElement(Ns.PubSubEvent + "event", SubscriptionElement(Ns.PubSubEvent, subscription, "subscribed", withNode: true)));
        return IqResponse.Result(result) with { AfterReply = ct => SendAsync(confirmation, ct) };
    }

    private IqResponse SetOptions(Jid requester, XElement options)
    {
        var (target, jid) = SubscriptionAddress(requester, options);
        RequireAccess(requester, target);
        var form = OptionsForm(options, required: true);
        var now = _time.GetUtcNow();
        PubSubSubscription updated;
        lock (_gate)
        {
            PruneLocked(now);
            var subscription = FindLocked(target, jid, (string?)options.Attribute("subid"));
            var settings = SubscriptionSettings.Apply(form, subscription.Settings, now, _options.MaxSubscriptionLifetime, out var error)
                ?? throw new RequestFailedException(error!);
            updated = subscription with { Settings = settings };
            _persisted?.Save(updated);
            _subscriptions[updated.SubId] = updated;
        }
        _logger.LogInformation("Subscription {SubId} of {Jid} to {Node} configured, until {Expires:o}", updated.SubId, jid, target.Node, updated.Expires);
        return IqResponse.Result();
    }

    private IqResponse GetOptions(Jid requester, XElement options)
    {
        var (target, jid) = SubscriptionAddress(requester, options);
        RequireAccess(requester, target);
        PubSubSubscription subscription;
        lock (_gate)
        {
            PruneLocked(_time.GetUtcNow());
            subscription = FindLocked(target, jid, (string?)options.Attribute("subid"));
        }
        return IqResponse.Result(new XElement(Ns.PubSub + "pubsub",
            new XElement(Ns.PubSub + "options",
                new XAttribute("node", subscription.Node),
                new XAttribute("jid", subscription.Jid),
                new XAttribute("subid", subscription.SubId),
                subscription.Settings.ToForm())));
    }

    private IqResponse Default(Jid requester, XElement element)
    {
        var node = (string?)element.Attribute("node");
        if (node is { Length: > 0 }) _ = Resolve(node, requester);
        return IqResponse.Result(new XElement(Ns.PubSub + "pubsub",
            new XElement(Ns.PubSub + "default", node is { Length: > 0 } ? new XAttribute("node", node) : null,
                SubscriptionSettings.Default(_time.GetUtcNow(), _options.MaxSubscriptionLifetime).ToForm())));
    }

    private IqResponse Unsubscribe(Jid requester, XElement unsubscribe)
    {
        var (target, jid) = SubscriptionAddress(requester, unsubscribe);
        PubSubSubscription removed;
        lock (_gate)
        {
            PruneLocked(_time.GetUtcNow());
            removed = FindLocked(target, jid, (string?)unsubscribe.Attribute("subid"));
            _persisted?.Delete(removed.SubId);
            _subscriptions.Remove(removed.SubId);
        }
        _logger.LogInformation("Subscription {SubId} of {Jid} to {Node} removed", removed.SubId, jid, target.Node);
        return IqResponse.Result();
    }

    private IqResponse ListSubscriptions(Jid requester, XElement element)
    {
        var node = (string?)element.Attribute("node");
        Target? target = null;
        if (node is { Length: > 0 })
        {
            target = Resolve(node, requester);
            RequireAccess(requester, target);
        }
        else if (_auth.AddressesFor(requester).Count == 0)
        {
            throw new RequestFailedException(NotAuthorizedForAny(requester));
        }
        List<PubSubSubscription> mine;
        lock (_gate)
        {
            PruneLocked(_time.GetUtcNow());
            mine = [.. _subscriptions.Values.Where(s => s.Jid.Bare == requester.Bare && (target is null || s.Node == target.Node))];
        }
        // As OnSIP answers: entries of a node-specific list carry no node attribute.
        return IqResponse.Result(new XElement(Ns.PubSub + "pubsub",
            new XElement(Ns.PubSub + "subscriptions",
                mine.Select(s => SubscriptionElement(Ns.PubSub, s, "subscribed", withNode: target is null)))));
    }

    private IqResponse Items(Jid requester, XElement element)
    {
        var node = (string?)element.Attribute("node");
        if (node is not { Length: > 0 }) throw new RequestFailedException(PubSubErrors.NodeIdRequired());
        var target = Resolve(node, requester);
        RequireAccess(requester, target);

        int? max = null;
        if ((string?)element.Attribute("max_items") is { } maxText)
        {
            if (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed <= 0)
                throw new RequestFailedException(StanzaError.BadRequest($"max_items must be a positive number, not '{maxText}'."));
            max = parsed;
        }
        var wanted = element.Elements(Ns.PubSub + "item").Select(i => (string?)i.Attribute("id")).OfType<string>().ToHashSet(StringComparer.Ordinal);

        IReadOnlyList<StoredItem> items = Store.ItemsOf(LeavesOf(requester, target));
        if (wanted.Count > 0) items = [.. items.Where(i => wanted.Contains(i.Id))];
        if (max is { } m && items.Count > m) items = [.. items.TakeLast(m)];

        return IqResponse.Result(new XElement(Ns.PubSub + "pubsub",
            new XElement(Ns.PubSub + "items", new XAttribute("node", target.Node),
                items.Select(i => new XElement(Ns.PubSub + "item",
                    new XAttribute("id", i.Id),
                    target.IsCollection ? new XAttribute("node", i.Node) : null,
                    i.Payload.ToXml())))));
    }

    /// <summary>disco#info: the service (pubsub/service and its features), or a node (pubsub/leaf or pubsub/collection).</summary>
    public Task<IqResponse> HandleDiscoInfoAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoInfo + "query", node is null ? null : new XAttribute("node", node));
        if (node is null)
        {
            query.Add(Identity("service", "Active-Calls PubSub"), Features.Select(Feature));
            return Task.FromResult(IqResponse.Result(query));
        }
        if (request.From is not { } requester) return Task.FromResult(IqResponse.Failure(StanzaError.BadRequest("The request has no sender.")));
        try
        {
            var isCollection = node == RootNode || Resolve(node, requester).IsCollection;
            query.Add(Identity(isCollection ? "collection" : "leaf", node), Feature(Ns.PubSub.NamespaceName));
            return Task.FromResult(IqResponse.Result(query));
        }
        catch (RequestFailedException e)
        {
            return Task.FromResult(Fail(e.Error));
        }
    }

    /// <summary>disco#items: the root lists the requester's <c>/me/&lt;jid&gt;</c>; that collection lists its authorised leaves;
    /// a leaf lists its item ids (XEP-0060 §5.5) to a JID authorised for it.</summary>
    public Task<IqResponse> HandleDiscoItemsAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.From is not { } requester) return Task.FromResult(IqResponse.Failure(StanzaError.BadRequest("The request has no sender.")));
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoItems + "query", node is null ? null : new XAttribute("node", node));
        try
        {
            if (node is null or RootNode)
            {
                var me = ActiveCallsNodes.ForJid(requester);
                query.Add(DiscoItem(me, $"Active calls of every SIP address {requester.Bare} is authorized for"));
            }
            else
            {
                var target = Resolve(node, requester);
                RequireAccess(requester, target);
                if (target.IsCollection)
                    query.Add(LeavesOf(requester, target).Order(StringComparer.Ordinal)
                        .Select(leaf => DiscoItem(leaf, Store.Users.TryGetAddressOfNode(leaf, out var address) ? address : leaf)));
                else
                    query.Add(Store.ItemsOf(target.Node).Select(i => new XElement(Ns.DiscoItems + "item", new XAttribute("jid", Jid), new XAttribute("name", i.Id))));
            }
            return Task.FromResult(IqResponse.Result(query));
        }
        catch (RequestFailedException e)
        {
            return Task.FromResult(Fail(e.Error));
        }
    }

    /// <summary>Drops expired subscriptions. A timer calls this every <see cref="SweepInterval"/>; expired subscriptions are
    /// already ignored before that.</summary>
    public void Sweep()
    {
        lock (_gate) PruneLocked(_time.GetUtcNow());
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        _publishing.Dispose();
    }

    // ---------------------------------------------------------------- helpers

    private sealed record Target(string Node, string? Address, Jid? Owner)
    {
        public bool IsCollection => Owner is not null;
    }

    /// <summary>Resolves a node name for <paramref name="requester"/>: <c>/</c> redirects to its collection; another JID's
    /// collection is forbidden; anything else must be a user's leaf.</summary>
    private Target Resolve(string node, Jid requester)
    {
        if (node == RootNode)
            throw new RequestFailedException(PubSubErrors.Redirect(new PubSubAddress(Jid, ActiveCallsNodes.ForJid(requester))));
        if (ActiveCallsNodes.TryParseJid(node, out var owner))
        {
            if (owner.Bare != requester.Bare)
                throw new RequestFailedException(PubSubErrors.Forbidden($"Node '{node}' is another JID's collection."));
            return new Target(ActiveCallsNodes.ForJid(owner), null, owner.Bare);
        }
        if (Store.Users.TryGetAddressOfNode(node, out var address)) return new Target(node, address, null);
        throw new RequestFailedException(PubSubErrors.NodeNotFound(node));
    }

    private void RequireAccess(Jid requester, Target target)
    {
        if (target.Address is { } address)
        {
            if (!_auth.IsAuthorized(requester, address))
                throw new RequestFailedException(PubSubErrors.Forbidden(
                    $"JID '{requester.Bare}' is not authorized for SIP address '{address}'; authorize it with {_options.AuthJid} (authorize-plain) first."));
        }
        else if (_auth.AddressesFor(requester).Count == 0)
        {
            throw new RequestFailedException(NotAuthorizedForAny(requester));
        }
    }

    private StanzaError NotAuthorizedForAny(Jid requester) =>
        PubSubErrors.Forbidden($"JID '{requester.Bare}' is not authorized for any SIP address; authorize it with {_options.AuthJid} (authorize-plain) first.");

    private IEnumerable<string> LeavesOf(Jid requester, Target target)
    {
        if (!target.IsCollection) return [target.Node];
        return _auth.AddressesFor(requester).Select(a => Store.Users.Find(a)?.Node).OfType<string>();
    }

    /// <summary>The <c>jid</c> attribute: present, a JID, and the requester's bare JID (else the given error).</summary>
    private static Jid SubscriberJid(Jid requester, XElement element, Func<string?, StanzaError> mismatch)
    {
        var text = (string?)element.Attribute("jid");
        if (!Jid.TryParse(text, out var jid) || jid is null)
            throw new RequestFailedException(PubSubErrors.InvalidJid(text is null ? "The request names no jid." : $"'{text}' is not a JID."));
        if (jid.Bare != requester.Bare)
            throw new RequestFailedException(mismatch($"The jid '{jid}' is not the requester's ({requester.Bare})."));
        return jid;
    }

    /// <summary>node + jid of an options/unsubscribe request. Another JID's subscription is <c>forbidden</c> (XEP-0060 §6.2.3.3).</summary>
    private (Target Target, Jid Jid) SubscriptionAddress(Jid requester, XElement element)
    {
        var node = (string?)element.Attribute("node");
        if (node is not { Length: > 0 }) throw new RequestFailedException(PubSubErrors.NodeIdRequired());
        var jid = SubscriberJid(requester, element, text => PubSubErrors.Forbidden(text ?? "Not the requester's subscription."));
        return (Resolve(node, requester), jid);
    }

    /// <summary>The subscription of <paramref name="jid"/> on the target: by subid when given, else the only one.</summary>
    private PubSubSubscription FindLocked(Target target, Jid jid, string? subId)
    {
        if (subId is { Length: > 0 })
        {
            return _subscriptions.TryGetValue(subId, out var bySubId) && bySubId.Node == target.Node && bySubId.Jid == jid
                ? bySubId
                : throw new RequestFailedException(PubSubErrors.InvalidSubId());
        }
        var matches = _subscriptions.Values.Where(s => s.Node == target.Node && s.Jid == jid).Take(2).ToList();
        return matches.Count switch
        {
            0 => throw new RequestFailedException(PubSubErrors.NotSubscribed()),
            1 => matches[0],
            _ => throw new RequestFailedException(PubSubErrors.SubIdRequired()),
        };
    }

    private static DataForm? OptionsForm(XElement? options, bool required)
    {
        if (options?.Element(Ns.DataForms + "x") is not { } x)
            return required ? throw new RequestFailedException(PubSubErrors.InvalidOptions("The options carry no data form.")) : null;
        try { return DataForm.Parse(x); }
        catch (XmppProtocolException e) { throw new RequestFailedException(PubSubErrors.InvalidOptions(e.Message)); }
    }

    private void PruneLocked(DateTimeOffset now)
    {
        List<string>? expired = null;
        foreach (var (subId, subscription) in _subscriptions)
            if (subscription.Expires <= now) (expired ??= []).Add(subId);
        if (expired is null) return;
        foreach (var subId in expired)
        {
            _persisted?.Delete(subId);
            _subscriptions.Remove(subId, out var subscription);
            _logger.LogInformation("Subscription {SubId} of {Jid} to {Node} expired", subId, subscription!.Jid, subscription.Node);
        }
    }

    private static XElement SubscriptionElement(XNamespace ns, PubSubSubscription subscription, string state, bool withNode) =>
        new(ns + "subscription",
            withNode ? new XAttribute("node", subscription.Node) : null,
            new XAttribute("jid", subscription.Jid),
            new XAttribute("subscription", state),
            new XAttribute("subid", subscription.SubId),
            new XAttribute("expiry", SubscriptionSettings.FormatTime(subscription.Expires)));

    private XElement DiscoItem(string node, string name) =>
        new(Ns.DiscoItems + "item", new XAttribute("jid", Jid), new XAttribute("node", node), new XAttribute("name", name));

    private static XElement Identity(string type, string name) =>
        new(Ns.DiscoInfo + "identity", new XAttribute("category", "pubsub"), new XAttribute("type", type), new XAttribute("name", name));

    private static XElement Feature(string var) => new(Ns.DiscoInfo + "feature", new XAttribute("var", var));

    private static IqResponse Fail(StanzaError error) => IqResponse.Failure(error);

    /// <summary>OnSIP's subids look like <c>548C825398B51</c>: upper-case hex, opaque.</summary>
    private static string NewSubId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8));

    private sealed class RequestFailedException(StanzaError error) : Exception(error.ToString())
    {
        public StanzaError Error { get; } = error;
    }

    private sealed class Detach(Action action) : IDisposable
    {
        private Action? _action = action;
        public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
    }
}
