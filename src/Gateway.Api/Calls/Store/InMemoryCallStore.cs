using System.Security.Cryptography;
using Gateway.Api.Calls.State;
using Gateway.Api.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// Calls in this process's memory: fast, bounded by <see cref="CallsOptions.MaxCalls"/>, forgotten on restart (so its
/// log starts a new epoch each time). Every operation is O(1) or O(log n): calls are indexed by id, SIP Call-ID and
/// item id; eviction takes the longest-ended call first, else the oldest live one, from two linked lists; pages seek
/// into a sorted set of insertion numbers.
/// </summary>
public sealed class InMemoryCallStore : ICallStore
{
    /// <summary>How many of the latest log events <see cref="ReadLogAsync"/> can return.</summary>
    private const int LogCapacity = 65_536;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _bySipCallId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _byItemId = new(StringComparer.Ordinal);
    // Insertion numbers in order (a page seeks into a view of it in O(log n)) and what each one names.
    private readonly SortedSet<long> _orders = [];
    private readonly Dictionary<long, Entry> _byOrder = [];
    private readonly LinkedList<Entry> _live = new();
    private readonly LinkedList<Entry> _ended = new();
    private readonly Dictionary<string, CommandIntent> _intents = new(StringComparer.Ordinal);
    private readonly Queue<StoredCallEvent> _log = new();
    private readonly CallsOptions _options;
    private readonly ILogger<InMemoryCallStore> _logger;
    private readonly string _epoch = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
    private long _order;
    private long _evictedLive;
    private long _position;

    public InMemoryCallStore(IOptions<CallsOptions> options, ILogger<InMemoryCallStore> logger)
    {
        _options = options.Value;
        _logger = logger;
    }

    public int Count
    {
        get { lock (_gate) return _byId.Count; }
    }

    public ValueTask<CallLogHead> OpenAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult(new CallLogHead(_epoch, _position));
    }

    public ValueTask<TrackedCall?> GetAsync(string id, CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult(_byId.GetValueOrDefault(id)?.Call);
    }

    public ValueTask<TrackedCall?> FindBySipCallIdAsync(string sipCallId, CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult(_bySipCallId.GetValueOrDefault(sipCallId)?.Call);
    }

    public ValueTask<TrackedCall?> FindByItemAsync(string itemId, CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult(_byItemId.GetValueOrDefault(itemId)?.Call);
    }

    public ValueTask<IReadOnlyList<StoredCallEvent>> CommitAsync(CallCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        lock (_gate)
        {
            foreach (var id in commit.RemovedCalls)
                if (_byId.TryGetValue(id, out var removed)) Remove(removed);
            foreach (var call in commit.Calls) Write(call);
            var stored = new List<StoredCallEvent>(commit.Events.Count);
            foreach (var e in commit.Events)
            {
                var logged = new StoredCallEvent(++_position, e);
                stored.Add(logged);
                _log.Enqueue(logged);
                if (_log.Count > LogCapacity) _log.Dequeue();
                if (!_byId.TryGetValue(e.Call.Id, out var owner)) continue;
                owner.Events.Add(e);
                if (owner.Events.Count > _options.MaxEventsPerCall) owner.Events.RemoveAt(0);
            }
            foreach (var id in commit.RemovedIntents) _intents.Remove(id);
            foreach (var intent in commit.Intents) _intents[intent.Id] = intent;
            Evict();
            return ValueTask.FromResult<IReadOnlyList<StoredCallEvent>>(stored);
        }
    }

    public ValueTask<IReadOnlyList<TrackedCall>> LiveAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult<IReadOnlyList<TrackedCall>>([.. _live.Select(e => e.Call)]);
    }

    public ValueTask<CallPageResult> ListAsync(CallQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_gate)
        {
            var page = new CallPageBuilder(query);
            if (_orders.Count == 0 || query.After >= _orders.Max) return ValueTask.FromResult(page.Result());
            foreach (var order in _orders.GetViewBetween(query.After + 1, _orders.Max))
                if (!page.Offer(order, _byOrder[order].Call)) break;
            return ValueTask.FromResult(page.Result());
        }
    }

    public ValueTask<IReadOnlyList<CallEvent>> EventsAsync(string callId, long afterSequence, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<CallEvent> events = _byId.TryGetValue(callId, out var entry) ? [.. entry.Events.Where(e => e.Sequence > afterSequence)] : [];
            return ValueTask.FromResult(events);
        }
    }

    public ValueTask<IReadOnlyList<StoredCallEvent>> ReadLogAsync(long afterPosition, int limit, CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult<IReadOnlyList<StoredCallEvent>>([.. _log.Where(e => e.Position > afterPosition).Take(limit)]);
    }

    public ValueTask<long> OldestLogPositionAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult(_log.TryPeek(out var first) ? first.Position : _position + 1);
    }

    public ValueTask<IReadOnlyList<CommandIntent>> IntentsAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return ValueTask.FromResult<IReadOnlyList<CommandIntent>>([.. _intents.Values]);
    }

    public ValueTask<int> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var purged = 0;
            // The ended list is in the order calls ended, so the expired ones are at its head.
            while (_ended.First is { } oldest && oldest.Value.Call.EndedAt < endedBefore)
            {
                Remove(oldest.Value);
                purged++;
            }
            return ValueTask.FromResult(purged);
        }
    }

    private void Write(TrackedCall call)
    {
        if (_byId.TryGetValue(call.Id, out var entry))
        {
            var wasEnded = entry.Call.IsEnded;
            Unindex(entry);
            entry.Call = call;
            if (call.IsEnded && !wasEnded)
            {
                _live.Remove(entry.Node);
                _ended.AddLast(entry.Node);
            }
        }
        else
        {
            entry = new Entry(call, ++_order);
            _byId[call.Id] = entry;
            _byOrder[entry.Order] = entry;
            _orders.Add(entry.Order);
            (call.IsEnded ? _ended : _live).AddLast(entry.Node);
        }
        foreach (var leg in call.Legs)
        {
            _byItemId[leg.ItemId] = entry;
            if (leg.Item.CallId is { } sipCallId) _bySipCallId.TryAdd(sipCallId, entry);
        }
    }

    private void Unindex(Entry entry)
    {
        foreach (var leg in entry.Call.Legs)
        {
            if (_byItemId.TryGetValue(leg.ItemId, out var owner) && owner == entry) _byItemId.Remove(leg.ItemId);
            if (leg.Item.CallId is { } sipCallId && _bySipCallId.TryGetValue(sipCallId, out owner) && owner == entry) _bySipCallId.Remove(sipCallId);
        }
    }

    private void Remove(Entry entry)
    {
        Unindex(entry);
        _byId.Remove(entry.Call.Id);
        _byOrder.Remove(entry.Order);
        _orders.Remove(entry.Order);
        entry.Node.List?.Remove(entry.Node);
    }

    /// <summary>Keeps the store bounded: the longest-ended calls go first, then the oldest live ones (never one whose
    /// create is in flight: its command's outcome still has to land somewhere).</summary>
    private void Evict()
    {
        var evictedLive = 0;
        while (_byId.Count > _options.MaxCalls)
        {
            if (_ended.First is { } ended)
            {
                Remove(ended.Value);
                continue;
            }
            var victim = _live.First;
            while (victim is { Value.Call.CreateInFlight: true }) victim = victim.Next;
            if (victim is null) break;
            Remove(victim.Value);
            evictedLive++;
        }
        if (evictedLive == 0) return;
        // Once full, every new call evicts one: say so when it starts and then once per tenth of the store, not per call.
        var before = _evictedLive;
        _evictedLive += evictedLive;
        if (before == 0 || before / Math.Max(1, _options.MaxCalls / 10) != _evictedLive / Math.Max(1, _options.MaxCalls / 10))
            _logger.LogWarning("Call store full ({Max} calls): {Count} live calls forgotten so far, oldest first (raise Gateway:Calls:MaxCalls " +
                               "or use the Sqlite store)", _options.MaxCalls, _evictedLive);
    }

    private sealed class Entry
    {
        public Entry(TrackedCall call, long order)
        {
            Call = call;
            Order = order;
            Node = new LinkedListNode<Entry>(this);
        }

        public TrackedCall Call { get; set; }
        public long Order { get; }
        public LinkedListNode<Entry> Node { get; }
        public List<CallEvent> Events { get; } = [];
    }
}
