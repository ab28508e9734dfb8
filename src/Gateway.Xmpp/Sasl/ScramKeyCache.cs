using System.Security.Cryptography;
using System.Text;

namespace Gateway.Xmpp.Sasl;

/// <summary>
/// A thread-safe, bounded cache of SCRAM <c>SaltedPassword</c> values keyed by (hash, password, salt, iteration count),
/// so that a pool of connections re-authenticating at once runs PBKDF2 once (RFC 5802 §5.1 allows the client to cache it).
/// </summary>
/// <remarks>
/// Concurrent requests for the same key wait for a single derivation. When full, the least recently used entry is evicted.
/// A changed password, salt or iteration count is simply a new key; stale entries age out. The cache holds the prepared
/// password (as part of the key) and the SaltedPassword, which is password-equivalent for that server: share one instance
/// only among connections of the same account set, and do not keep it longer than the credentials themselves.
/// </remarks>
public sealed class ScramKeyCache
{
    /// <summary>The capacity used when none is given.</summary>
    public const int DefaultCapacity = 32;

    private readonly Lock _gate = new();
    private readonly Dictionary<Key, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new(); // most recently used first
    private long _derivations;

    /// <param name="capacity">The most entries kept; at least 1.</param>
    public ScramKeyCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>The most entries kept.</summary>
    public int Capacity { get; }

    /// <summary>The entries currently held.</summary>
    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    /// <summary>Forgets every entry.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
            _recency.Clear();
        }
    }

    /// <summary>How many PBKDF2 derivations this cache has run (for tests and diagnostics).</summary>
    internal long Derivations => Interlocked.Read(ref _derivations);

    /// <summary>Returns a fresh copy of the SaltedPassword, deriving it at most once per key.</summary>
    internal byte[] GetSaltedPassword(ScramHash hash, string preparedPassword, byte[] salt, int iterations)
    {
        var key = new Key(hash, preparedPassword, Convert.ToBase64String(salt), iterations);
        Lazy<byte[]> value;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                value = node.Value.Value;
            }
            else
            {
                var saltCopy = (byte[])salt.Clone();
                value = new Lazy<byte[]>(() =>
                {
                    Interlocked.Increment(ref _derivations);
                    return DeriveSaltedPassword(hash, preparedPassword, saltCopy, iterations);
                }, LazyThreadSafetyMode.ExecutionAndPublication);
                if (_entries.Count >= Capacity && _recency.Last is { } oldest)
                {
                    _recency.RemoveLast();
                    _entries.Remove(oldest.Value.Key);
                }
                _entries.Add(key, _recency.AddFirst(new Entry(key, value)));
            }
        }
        // Derive outside the lock: other keys stay available while PBKDF2 runs; same-key callers wait on the Lazy.
        return (byte[])value.Value.Clone();
    }

    /// <summary>RFC 5802 §3: <c>SaltedPassword := Hi(Normalize(password), salt, i)</c>, where Hi is PBKDF2 with HMAC-H.</summary>
    internal static byte[] DeriveSaltedPassword(ScramHash hash, string preparedPassword, byte[] salt, int iterations)
    {
        var password = Encoding.UTF8.GetBytes(preparedPassword);
        try
        {
            return hash switch
            {
                // SHA-1 is what RFC 5802 mandates for SCRAM-SHA-1; it is only chosen when the server lacks SCRAM-SHA-256.
                ScramHash.Sha1 => Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA1, SHA1.HashSizeInBytes),
                ScramHash.Sha256 => Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, SHA256.HashSizeInBytes),
                _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "Unknown SCRAM hash."),
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    private readonly record struct Key(ScramHash Hash, string Password, string Salt, int Iterations);

    private sealed record Entry(Key Key, Lazy<byte[]> Value);
}
