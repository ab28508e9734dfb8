using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;

namespace Gateway.Api.Calls;

/// <summary>
/// The embedded store's live calls as committed, kept by the <see cref="CallTracker"/> (the store's only writer) and
/// touched only under its gate: by id, and by the PubSub item id of each leg. It answers the tracker's own reads of live
/// calls (every PubSub item and every command step reads the call it changes), so those reads cost a dictionary lookup
/// instead of a database read and a JSON parse; a miss is not an answer and goes to the store (an ended call, or one
/// not known yet).
/// <para>The item index follows <see cref="ICallStore.FindByItemAsync"/>: an item points at the call that wrote it last.
/// A live call maps its legs' items here; an ended or removed call unmaps them (whichever call they pointed at, since the
/// store now points them at the ended call), so a hit is always what the store would answer.</para>
/// </summary>
internal sealed class LiveCalls
{
    private readonly Dictionary<string, TrackedCall> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _idByItem = new(StringComparer.Ordinal);

    /// <summary>The live calls, in no particular order.</summary>
    public IReadOnlyCollection<TrackedCall> Values => _byId.Values;

    public TrackedCall? Get(string id) => _byId.GetValueOrDefault(id);

    public TrackedCall? FindByItem(string itemId) => _idByItem.TryGetValue(itemId, out var id) ? _byId.GetValueOrDefault(id) : null;

    /// <summary>The live calls found in the store at start. An item two of them claim is left out: the store knows which
    /// wrote it last, so its lookups go there.</summary>
    public void Load(IEnumerable<TrackedCall> calls)
    {
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        var ambiguous = new HashSet<string>(StringComparer.Ordinal);
        foreach (var call in calls)
        {
            _byId[call.Id] = call;
            foreach (var leg in call.Legs)
                if (!claimed.Add(leg.ItemId)) ambiguous.Add(leg.ItemId);
                else _idByItem[leg.ItemId] = call.Id;
        }
        foreach (var item in ambiguous) _idByItem.Remove(item);
    }

    /// <summary>The call as just committed: kept while it is live, dropped once it has ended.</summary>
    public void Committed(TrackedCall call)
    {
        if (_byId.Remove(call.Id, out var before)) Unmap(before);
        if (call.IsEnded)
        {
            foreach (var leg in call.Legs) _idByItem.Remove(leg.ItemId);
            return;
        }
        _byId[call.Id] = call;
        foreach (var leg in call.Legs) _idByItem[leg.ItemId] = call.Id;
    }

    /// <summary>The call was removed from the store, and with it its item index rows.</summary>
    public void Removed(string id)
    {
        if (_byId.Remove(id, out var before)) Unmap(before);
    }

    /// <summary>Drops the item rows that pointed at <paramref name="call"/> (the store deletes them on every rewrite).</summary>
    private void Unmap(TrackedCall call)
    {
        foreach (var leg in call.Legs)
            if (_idByItem.TryGetValue(leg.ItemId, out var owner) && string.Equals(owner, call.Id, StringComparison.Ordinal))
                _idByItem.Remove(leg.ItemId);
    }
}
