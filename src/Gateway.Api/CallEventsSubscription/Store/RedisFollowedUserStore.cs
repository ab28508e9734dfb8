using System.Text.Json;
using Gateway.Api.Replicas;
using Microsoft.AspNetCore.DataProtection;
using StackExchange.Redis;

namespace Gateway.Api.CallEventsSubscription.Store;

/// <summary>
/// With <c>Gateway:Calls:Store=Redis</c>: the added followed users in one Redis hash that every replica shares
/// (<c>followed-users</c>: address → JSON of the protected web password and when the user was added). Passwords are
/// Data Protection payloads (<see cref="FollowedUserPasswords"/>) of the key ring the replicas share on Redis (see
/// <c>AddCallEvents</c>). After each change it rings <see cref="FollowedUsersReplication.Bell"/>, so the other replicas
/// reload at once.
/// </summary>
internal sealed class RedisFollowedUserStore(RedisConnection redis, IDataProtectionProvider protection) : IFollowedUserStore
{
    private readonly IDataProtector _protector = FollowedUserPasswords.Protector(protection);

    private RedisKey Users => redis.Key("followed-users");

    // Every method awaits the connection before it protects or unprotects: Data Protection reads its key ring from Redis
    // synchronously (see AddCallEvents), and must then find the connection made.

    public async Task<IReadOnlyList<StoredFollowedUser>> ListAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var fields = await db.HashGetAllAsync(Users).WaitAsync(cancellationToken);
        return [.. fields.Select(f => Read((string)f.Name!, f.Value)).OrderBy(u => u.AddedAt).ThenBy(u => u.Address, StringComparer.Ordinal)];
    }

    public async Task<bool> AddAsync(StoredFollowedUser user, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        if (!await db.HashSetAsync(Users, user.Address, Write(user.Password, user.AddedAt), When.NotExists).WaitAsync(cancellationToken)) return false;
        await RedisBell.RingAsync(redis, FollowedUsersReplication.Bell);
        return true;
    }

    public async Task<bool> SetPasswordAsync(string address, string password, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        while (true)
        {
            var stored = await db.HashGetAsync(Users, address).WaitAsync(cancellationToken);
            if (stored.IsNull) return false;
            // Written only over the value just read: a removal or another change on another replica meanwhile makes the
            // transaction fail, and it is worked out again from what is there now.
            var transaction = db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(Users, address, stored));
            _ = transaction.HashSetAsync(Users, address, Write(password, Parse(stored).AddedAt));
            if (await transaction.ExecuteAsync().WaitAsync(cancellationToken)) break;
        }
        await RedisBell.RingAsync(redis, FollowedUsersReplication.Bell);
        return true;
    }

    public async Task<bool> RemoveAsync(string address, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        if (!await db.HashDeleteAsync(Users, address).WaitAsync(cancellationToken)) return false;
        await RedisBell.RingAsync(redis, FollowedUsersReplication.Bell);
        return true;
    }

    private StoredFollowedUser Read(string address, RedisValue json)
    {
        var stored = Parse(json);
        return new StoredFollowedUser(address, _protector.Unprotect(stored.Password), stored.AddedAt);
    }

    private string Write(string password, DateTimeOffset addedAt) =>
        JsonSerializer.Serialize(new ProtectedUser(_protector.Protect(password), addedAt), JsonSerializerOptions.Web);

    private static ProtectedUser Parse(RedisValue json) =>
        JsonSerializer.Deserialize<ProtectedUser>((string)json!, JsonSerializerOptions.Web)
        ?? throw new InvalidDataException("A followed user in Redis is not a JSON object.");

    /// <summary>One hash value: the web password as a Data Protection payload, never in clear.</summary>
    private sealed record ProtectedUser(string Password, DateTimeOffset AddedAt);
}
