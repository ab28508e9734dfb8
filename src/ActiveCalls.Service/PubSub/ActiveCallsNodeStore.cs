using System.Diagnostics.CodeAnalysis;
using ActiveCalls.Service.Auth;
using Gateway.Xmpp.ActiveCalls;

namespace ActiveCalls.Service.PubSub;

/// <summary>An item on a leaf: its id, payload (with its publish-time) and the order it was last published in.</summary>
public sealed record StoredItem(string Node, string Id, ActiveCallItem Payload, long Sequence);

/// <summary>
/// The leaves of the Active-Calls PubSub tree and their current items: one leaf <c>/&lt;domain&gt;/&lt;user&gt;</c> per
/// user of the <see cref="UserDirectory"/>, holding one item per active call leg. Lives in the service process, not in an
/// XMPP session, so the items outlast any reconnection to the XMPP server. Thread-safe.
/// </summary>
/// <remarks>Publishing an existing item id replaces its payload and makes it the newest item (XEP-0060 §7.1.2); a
/// retract removes it. Nothing is kept for addresses that are not users.</remarks>
public sealed class ActiveCallsNodeStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, StoredItem>> _items = new(StringComparer.Ordinal);
    private readonly IItemStore? _persisted;
    private long _sequence;

    /// <summary>A store of the users' leaves; with <paramref name="persisted"/>, its items are written there before their
    /// notifications leave, and the items a previous run left there are loaded (see <see cref="Recovered"/>).</summary>
    public ActiveCallsNodeStore(UserDirectory users, IItemStore? persisted = null)
    {
        Users = users ?? throw new ArgumentNullException(nameof(users));
        _persisted = persisted;
        var recovered = new List<StoredItem>();
        foreach (var item in persisted?.Load() ?? [])
        {
            if (!Users.TryGetAddressOfNode(item.Node, out _))
            {
                persisted!.Delete(item.Node, item.Id); // a user removed from the users file: nobody can see it any more
                continue;
            }
            if (!_items.TryGetValue(item.Node, out var items)) _items[item.Node] = items = new(StringComparer.Ordinal);
            items[item.Id] = item;
            _sequence = Math.Max(_sequence, item.Sequence);
            recovered.Add(item);
        }
        Recovered = recovered;
    }

    /// <summary>The items a previous run of the service left published (loaded at construction), oldest first: the legs of
    /// calls it could not end. They are served as they are until the service retracts them.</summary>
    public IReadOnlyList<StoredItem> Recovered { get; }

    public UserDirectory Users { get; }

    /// <summary>The leaf of a user's address (<c>sip:</c> and case do not matter), if the address is a user.</summary>
    public bool TryGetLeaf(string? sipAddress, [NotNullWhen(true)] out string? node, [NotNullWhen(true)] out string? address)
    {
        var user = Users.Find(sipAddress);
        node = user?.Node;
        address = user?.Address;
        return user is not null;
    }

    /// <summary>Stores (or replaces) an item on the leaf of <paramref name="sipAddress"/>; null when the address is no user's.</summary>
    public StoredItem? Publish(string sipAddress, string itemId, ActiveCallItem payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        ArgumentNullException.ThrowIfNull(payload);
        if (!TryGetLeaf(sipAddress, out var node, out _)) return null;
        lock (_gate)
        {
            if (!_items.TryGetValue(node, out var items)) _items[node] = items = new(StringComparer.Ordinal);
            var stored = new StoredItem(node, itemId, payload, ++_sequence);
            _persisted?.Save(stored);
            items[itemId] = stored;
            return stored;
        }
    }

    /// <summary>Removes an item; returns it, or null when there was no such item (or no such user).</summary>
    public StoredItem? Retract(string sipAddress, string itemId)
    {
        ArgumentNullException.ThrowIfNull(itemId);
        if (!TryGetLeaf(sipAddress, out var node, out _)) return null;
        lock (_gate)
        {
            if (!_items.TryGetValue(node, out var items) || !items.Remove(itemId, out var removed)) return null;
            _persisted?.Delete(node, itemId);
            if (items.Count == 0) _items.Remove(node);
            return removed;
        }
    }

    /// <summary>The current items of the given leaves, oldest publication first.</summary>
    public IReadOnlyList<StoredItem> ItemsOf(IEnumerable<string> leafNodes)
    {
        ArgumentNullException.ThrowIfNull(leafNodes);
        lock (_gate)
        {
            return [.. leafNodes.Distinct(StringComparer.Ordinal)
                .SelectMany(node => _items.TryGetValue(node, out var items) ? items.Values : Enumerable.Empty<StoredItem>())
                .OrderBy(item => item.Sequence)];
        }
    }

    /// <summary>The current items of one leaf, oldest publication first.</summary>
    public IReadOnlyList<StoredItem> ItemsOf(string leafNode) => ItemsOf([leafNode]);
}
