using System.Numerics;

namespace Gateway.Api.Idempotency;

/// <summary>
/// Which Idempotency-Keys may have a stored response: one counter per slot of the keys' hashes, kept in step with the
/// rows by their only writer (<see cref="SqliteIdempotencyStore"/>), so that a new key, the common case, begins without
/// reading the file. A slot that counts zero has no row: every row is counted when it is written, before its claim is
/// freed, and uncounted when it is deleted. A slot that counts more may hold the key or another one, so that key is
/// read. Memory: 4 bytes per slot, two slots per <see cref="Configuration.IdempotencyOptions.MaxEntries"/> rounded up
/// to a power of two, at most 4 Mi slots (16 MiB; beyond that, more keys share slots and are read).
/// </summary>
internal sealed class StoredKeyFilter
{
    private const int MaxSlots = 1 << 22;
    private readonly int[] _counts;
    private readonly int _mask;

    public StoredKeyFilter(int maxEntries)
    {
        var slots = (int)Math.Min(MaxSlots, BitOperations.RoundUpToPowerOf2((ulong)Math.Max(64L, 2L * maxEntries)));
        _counts = new int[slots];
        _mask = slots - 1;
    }

    /// <summary>False when no row can hold <paramref name="key"/>.</summary>
    public bool MayContain(string key) => Volatile.Read(ref _counts[Slot(key)]) > 0;

    public void Added(string key) => Interlocked.Increment(ref _counts[Slot(key)]);

    public void Removed(string key) => Interlocked.Decrement(ref _counts[Slot(key)]);

    // The process's randomised string hash: the filter lives in memory only, and keys chosen to collide cost reads, no more.
    private int Slot(string key) => StringComparer.Ordinal.GetHashCode(key) & _mask;
}
