namespace ActiveCalls.Service.Commands;

/// <summary>A multi-stage session waiting for its form: whose it is and which node it runs.</summary>
public sealed record CommandSessionKey(string SessionId, string Owner, string Node);

/// <summary>
/// The open multi-stage sessions. A session belongs to one requester (full JID) and one node; any use by another
/// requester or for another node reads as unknown. A session lives <c>lifetime</c> from its last use, so a user who
/// corrects a rejected form keeps it. Bounds: each requester has at most <c>maxPerOwner</c> sessions (opening one
/// more drops that requester's least recently used), and the store at most <c>maxSessions</c> (opening one more is
/// refused). Thread-safe.
/// </summary>
public sealed class CommandSessionStore
{
    public const int DefaultMaxPerOwner = 50;
    public const int DefaultMaxSessions = 10_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkedList<Entry>> _byOwner = new(StringComparer.Ordinal);
    /// <summary>Least recently used first; since every use extends by the same lifetime, also soonest to expire first.</summary>
    private readonly LinkedList<Entry> _byExpiry = new();
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private readonly int _maxPerOwner;
    private readonly int _maxSessions;

    public CommandSessionStore(TimeSpan lifetime, TimeProvider timeProvider, int maxPerOwner = DefaultMaxPerOwner, int maxSessions = DefaultMaxSessions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerOwner, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSessions, 1);
        _lifetime = lifetime;
        _time = timeProvider;
        _maxPerOwner = maxPerOwner;
        _maxSessions = maxSessions;
    }

    /// <summary>Open sessions, expired ones not counted.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                Sweep();
                return _byId.Count;
            }
        }
    }

    public int CountFor(string owner)
    {
        lock (_gate)
        {
            Sweep();
            return _byOwner.TryGetValue(owner, out var list) ? list.Count : 0;
        }
    }

    /// <summary>Opens a session with a new id, or returns <see langword="null"/> when the store is full.</summary>
    public CommandSessionKey? Open(string owner, string node)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(node);
        lock (_gate)
        {
            Sweep();
            if (_byOwner.TryGetValue(owner, out var own) && own.Count >= _maxPerOwner) Remove(own.First!.Value);
            if (_byId.Count >= _maxSessions) return null;
            var key = new CommandSessionKey(CommandIds.NewSessionId(), owner, node);
            Add(key);
            return key;
        }
    }

    /// <summary>True when <paramref name="sessionId"/> is open for this owner and node; the use extends its life.</summary>
    public bool Touch(string sessionId, string owner, string node)
    {
        lock (_gate)
        {
            if (Find(sessionId, owner, node) is not { } entry) return false;
            Remove(entry);
            Add(entry.Key);
            return true;
        }
    }

    /// <summary>Removes and returns the session, so that one submission at a time can run it; <see cref="Return"/> puts
    /// it back (e.g. after a rejected form).</summary>
    public CommandSessionKey? Take(string sessionId, string owner, string node)
    {
        lock (_gate)
        {
            if (Find(sessionId, owner, node) is not { } entry) return null;
            Remove(entry);
            return entry.Key;
        }
    }

    /// <summary>Puts a taken session back, with a fresh lifetime. Subject to the same bounds as <see cref="Open"/>.</summary>
    public bool Return(CommandSessionKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            Sweep();
            if (_byId.ContainsKey(key.SessionId)) return true;
            if (_byOwner.TryGetValue(key.Owner, out var own) && own.Count >= _maxPerOwner) Remove(own.First!.Value);
            if (_byId.Count >= _maxSessions) return false;
            Add(key);
            return true;
        }
    }

    private Entry? Find(string sessionId, string owner, string node)
    {
        Sweep();
        return _byId.TryGetValue(sessionId, out var entry) && entry.Key.Owner == owner && entry.Key.Node == node ? entry : null;
    }

    private void Add(CommandSessionKey key)
    {
        var entry = new Entry(key, _time.GetUtcNow() + _lifetime);
        _byId.Add(key.SessionId, entry);
        if (!_byOwner.TryGetValue(key.Owner, out var own)) _byOwner.Add(key.Owner, own = new LinkedList<Entry>());
        entry.OwnerNode = own.AddLast(entry);
        entry.ExpiryNode = _byExpiry.AddLast(entry);
    }

    private void Remove(Entry entry)
    {
        _byId.Remove(entry.Key.SessionId);
        _byExpiry.Remove(entry.ExpiryNode!);
        var own = _byOwner[entry.Key.Owner];
        own.Remove(entry.OwnerNode!);
        if (own.Count == 0) _byOwner.Remove(entry.Key.Owner);
    }

    private void Sweep()
    {
        var now = _time.GetUtcNow();
        while (_byExpiry.First is { } first && first.Value.Expires <= now) Remove(first.Value);
    }

    private sealed class Entry(CommandSessionKey key, DateTimeOffset expires)
    {
        public CommandSessionKey Key { get; } = key;
        public DateTimeOffset Expires { get; } = expires;
        public LinkedListNode<Entry>? OwnerNode { get; set; }
        public LinkedListNode<Entry>? ExpiryNode { get; set; }
    }
}
