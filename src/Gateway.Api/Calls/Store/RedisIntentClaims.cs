using System.Security.Cryptography;
using Gateway.Api.Calls.Commands;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// Claims on the intents of the <see cref="RedisCallStore"/>: <c>intent-claim:{id}</c> set with NX and a lease long
/// enough for one attempt (every command of a hang-up waiting its full IQ timeout), only while the intent is still in
/// the store's <c>intents</c> hash, in one script. Released by compare-and-delete, so a late release never frees another
/// replica's claim.
/// </summary>
public sealed class RedisIntentClaims(RedisConnection redis, IOptions<XmppOptions> xmpp) : ICommandIntentClaims
{
    private const string ClaimScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
        if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
        return 0
        """;

    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

    private readonly string _token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly long _leaseMs = (long)(xmpp.Value.IqTimeout * 3 + TimeSpan.FromSeconds(5)).TotalMilliseconds;

    public async ValueTask<IntentClaim> TryClaimAsync(string intentId, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var result = (long)await db.ScriptEvaluateAsync(ClaimScript, [redis.Key("intents"), ClaimKey(intentId)], [intentId, _token, _leaseMs]);
        return result switch
        {
            1 => IntentClaim.Claimed,
            -1 => IntentClaim.Gone,
            _ => IntentClaim.HeldElsewhere,
        };
    }

    public async ValueTask ReleaseAsync(string intentId, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.ScriptEvaluateAsync(ReleaseScript, [ClaimKey(intentId)], [_token]);
    }

    private RedisKey ClaimKey(string intentId) => redis.Key("intent-claim:" + intentId);
}
