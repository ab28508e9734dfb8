using Gateway.Api.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Idempotency;

/// <summary>A response kept for replay: status, the headers worth replaying, and the body.</summary>
public sealed record StoredResponse(int StatusCode, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body);

/// <summary>What <see cref="IIdempotencyStore.TryBeginAsync"/> found.</summary>
public abstract record IdempotencyBegin
{
    private IdempotencyBegin() { }

    /// <summary>The key was free: the caller executes the request, then completes or releases the key.</summary>
    public sealed record Acquired : IdempotencyBegin;
    /// <summary>A first request with this key finished; replay its response (when the fingerprints match).</summary>
    public sealed record Completed(string Fingerprint, StoredResponse Response) : IdempotencyBegin;
    /// <summary>A first request with this key is still running; wait for <see cref="Finished"/> and try again.</summary>
    public sealed record InProgress(string Fingerprint, Task Finished) : IdempotencyBegin;
}

/// <summary>
/// Where Idempotency-Key outcomes live for their TTL. Keys arrive already scoped to the API key. The in-memory and the
/// SQLite store serve one replica; <see cref="RedisIdempotencyStore"/> is shared by several (a claim with a lease, the
/// response under the same key, waiters woken by pub/sub and polling). The store follows <c>Gateway:Calls:Store</c>.
/// </summary>
public interface IIdempotencyStore
{
    ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken);

    /// <summary>Stores the first response for <paramref name="ttl"/> and wakes the waiters.</summary>
    ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Frees the key without a response (the request was not carried out): the next try executes again.</summary>
    ValueTask ReleaseAsync(string key, CancellationToken cancellationToken);
}

/// <summary>The single-replica store: a bounded dictionary with expiry on the <see cref="TimeProvider"/>.</summary>
internal sealed class InMemoryIdempotencyStore(IOptions<IdempotencyOptions> options, TimeProvider time) : IIdempotencyStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_entries.TryGetValue(key, out var entry))
            {
                if (entry.Response is null) return ValueTask.FromResult<IdempotencyBegin>(new IdempotencyBegin.InProgress(entry.Fingerprint, entry.Finished.Task));
                if (entry.ExpiresAt > now) return ValueTask.FromResult<IdempotencyBegin>(new IdempotencyBegin.Completed(entry.Fingerprint, entry.Response));
                _entries.Remove(key);
            }
            if (_entries.Count >= options.Value.MaxEntries) Trim(now);
            _entries[key] = new Entry(fingerprint);
            return ValueTask.FromResult<IdempotencyBegin>(new IdempotencyBegin.Acquired());
        }
    }

    public ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out entry) || entry.Response is not null) return ValueTask.CompletedTask;
            entry.Response = response;
            entry.ExpiresAt = time.GetUtcNow() + ttl;
        }
        entry.Finished.TrySetResult();
        return ValueTask.CompletedTask;
    }

    public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out entry) || entry.Response is not null) return ValueTask.CompletedTask;
            _entries.Remove(key);
        }
        entry.Finished.TrySetResult();
        return ValueTask.CompletedTask;
    }

    private void Trim(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries.Where(e => e.Value.Response is not null && e.Value.ExpiresAt <= now).ToList())
            _entries.Remove(key);
        var excess = _entries.Count - options.Value.MaxEntries + 1;
        if (excess <= 0) return;
        foreach (var (key, _) in _entries.Where(e => e.Value.Response is not null).OrderBy(e => e.Value.ExpiresAt).Take(excess).ToList())
            _entries.Remove(key);
    }

    private sealed class Entry(string fingerprint)
    {
        public string Fingerprint { get; } = fingerprint;
        public StoredResponse? Response { get; set; }
        public DateTimeOffset ExpiresAt { get; set; }
        public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
