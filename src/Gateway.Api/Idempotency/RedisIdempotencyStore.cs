using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.Idempotency;

/// <summary>
/// Idempotency-Key outcomes in the Redis that replicas share (<c>Gateway:Calls:Store</c> = <c>Redis</c>), so a key used
/// on one replica is seen by all. One hash per key, <c>{prefix}idem:{scoped key}</c>:
/// <list type="bullet">
/// <item>a claim holds <c>fingerprint</c> and <c>claim</c> (a random token of the claiming request) and lives for the
/// lease: twice <see cref="HttpApiOptions.RequestTimeout"/>, so a replica that dies mid-request frees the key by itself
/// once no request of it can still be running, and the next try executes;</item>
/// <item>a completed key holds <c>fingerprint</c>, <c>status</c>, <c>headers</c> (JSON) and <c>body</c> (raw bytes) and
/// lives for the TTL given; Redis expires it.</item>
/// </list>
/// Each operation is one Lua script, so a claim is taken by exactly one replica, and a completion or release changes the
/// key only while it still holds this replica's token (a claim whose lease ran out may belong to another request now).
/// Completion and release publish the token, which <see cref="RedisClaimWatcher"/> turns into the waiters'
/// <see cref="IdempotencyBegin.InProgress.Finished"/> (with polling behind it). The scripts run even when the caller's
/// token is cancelled once sent: a claim abandoned half-way would hold the key for a whole lease.
/// <see cref="IdempotencyOptions.MaxEntries"/> does not apply: keys go by their TTL, and Redis's memory limit is the
/// bound (with an eviction policy of <c>noeviction</c> or <c>volatile-ttl</c>, claims are not evicted before their
/// lease ends).
/// </summary>
internal sealed class RedisIdempotencyStore : IIdempotencyStore, IAsyncDisposable
{
    internal const string ClaimField = "claim";

    // KEYS[1] the key; ARGV fingerprint, token, lease in ms. Returns {} when claimed, else what the key holds.
    private const string BeginScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then
          redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'claim', ARGV[2])
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
          return {}
        end
        local claim = redis.call('HGET', KEYS[1], 'claim')
        if claim then
          return {'in-progress', redis.call('HGET', KEYS[1], 'fingerprint'), claim, redis.call('PTTL', KEYS[1])}
        end
        return {'completed', unpack(redis.call('HMGET', KEYS[1], 'fingerprint', 'status', 'headers', 'body'))}
        """;

    // KEYS[1] the key; ARGV token, channel, status, headers, body, TTL in ms.
    private const string CompleteScript = """
        if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then return 0 end
        redis.call('HDEL', KEYS[1], 'claim')
        redis.call('HSET', KEYS[1], 'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5])
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    // KEYS[1] the key; ARGV token, channel.
    private const string ReleaseScript = """
        if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    private readonly RedisConnection _redis;
    private readonly RedisClaimWatcher _watcher;
    // The tokens of this replica's claims, by key: the middleware completes or releases a key by name, and only the
    // request that claimed it may. A key is claimed again only after its lease, when its first request has surely ended.
    private readonly ConcurrentDictionary<string, string> _claims = new(StringComparer.Ordinal);

    public RedisIdempotencyStore(RedisConnection redis, IOptions<HttpApiOptions> http, TimeProvider time)
    {
        _redis = redis;
        _watcher = new RedisClaimWatcher(redis, time);
        Lease = http.Value.RequestTimeout * 2;
    }

    /// <summary>How long a claim holds its key without a completion or release: the request budget, and as much again
    /// for what still runs after a timeout (the handler noticing, the 504 written, the release sent).</summary>
    public TimeSpan Lease { get; }

    public async ValueTask<IdempotencyBegin> TryBeginAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        var db = await _redis.DatabaseAsync().WaitAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var found = (RedisResult[])(await db.ScriptEvaluateAsync(BeginScript, [RedisKey(key)], [fingerprint, token, Milliseconds(Lease)]))!;
        if (found.Length == 0)
        {
            _claims[key] = token;
            return new IdempotencyBegin.Acquired();
        }
        if ((string?)found[0] == "in-progress")
        {
            var finished = await _watcher.WhenEndedAsync(RedisKey(key), (string)found[2]!, TimeSpan.FromMilliseconds((long)found[3]), cancellationToken);
            return new IdempotencyBegin.InProgress((string)found[1]!, finished);
        }
        var headers = JsonSerializer.Deserialize<List<KeyValuePair<string, string>>>((string)found[3]!) ?? [];
        return new IdempotencyBegin.Completed((string)found[1]!, new StoredResponse((int)found[2], headers, (byte[])found[4]!));
    }

    public async ValueTask CompleteAsync(string key, string fingerprint, StoredResponse response, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!_claims.TryRemove(key, out var token)) return;
        var db = await _redis.DatabaseAsync().WaitAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        await db.ScriptEvaluateAsync(CompleteScript, [RedisKey(key)],
            [token, _watcher.Channel.ToString(), response.StatusCode, JsonSerializer.Serialize(response.Headers), response.Body, Milliseconds(ttl)]);
    }

    public async ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        if (!_claims.TryRemove(key, out var token)) return;
        var db = await _redis.DatabaseAsync().WaitAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        await db.ScriptEvaluateAsync(ReleaseScript, [RedisKey(key)], [token, _watcher.Channel.ToString()]);
    }

    public ValueTask DisposeAsync() => _watcher.DisposeAsync();

    private RedisKey RedisKey(string key) => _redis.Key("idem:" + key);

    /// <summary>Whole milliseconds, at least one: PEXPIRE 0 would delete the key at once.</summary>
    private static long Milliseconds(TimeSpan span) => Math.Max(1, (long)Math.Ceiling(span.TotalMilliseconds));
}
