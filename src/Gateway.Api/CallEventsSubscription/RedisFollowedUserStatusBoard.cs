using System.Text.Json;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>
/// The subscription holder's followed-user statuses on Redis, for the replicas that authorise nobody to show: a hash
/// <c>followed-users:status</c> (address → JSON of its <see cref="FollowedUserStatus"/>) that the holder replaces whole.
/// It lives three leases unless the holder writes it again, so when the holder is gone and nobody took over, the
/// statuses go too rather than claim authorisations that nobody renews.
/// </summary>
internal sealed class RedisFollowedUserStatusBoard(RedisConnection redis, IOptions<RedisOptions> options)
{
    private RedisKey Board => redis.Key("followed-users:status");

    private TimeSpan TimeToLive => options.Value.LeaseTime * 3;

    /// <summary>Puts up <paramref name="statuses"/> for another three leases; true when that changed what the board says.</summary>
    public async Task<bool> WriteAsync(IReadOnlyList<FollowedUserStatus> statuses, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var fields = statuses.Select(s => new HashEntry(s.Address, JsonSerializer.Serialize(s, JsonSerializerOptions.Web))).ToArray();
        var shown = (await db.HashGetAllAsync(Board).WaitAsync(cancellationToken)).ToDictionary(f => f.Name, f => f.Value);
        var changed = shown.Count != fields.Length || fields.Any(f => !shown.TryGetValue(f.Name, out var value) || value != f.Value);
        var transaction = db.CreateTransaction();
        if (changed)
        {
            _ = transaction.KeyDeleteAsync(Board);
            if (fields.Length > 0) _ = transaction.HashSetAsync(Board, fields);
        }
        _ = transaction.KeyExpireAsync(Board, TimeToLive);
        await transaction.ExecuteAsync().WaitAsync(cancellationToken);
        return changed;
    }

    /// <summary>The statuses the holder last put up (none once they expired), by address.</summary>
    public async Task<IReadOnlyList<FollowedUserStatus>> ReadAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var fields = await db.HashGetAllAsync(Board).WaitAsync(cancellationToken);
        return [.. fields.Select(f => JsonSerializer.Deserialize<FollowedUserStatus>((string)f.Value!, JsonSerializerOptions.Web)
                                      ?? throw new InvalidDataException($"The status of {f.Name} on Redis is not a JSON object."))];
    }
}
