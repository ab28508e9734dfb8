using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>The store contract on the shared redis-server, under a key prefix of its own.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisWebhookStoreTests(RedisFixture redis) : WebhookStoreContract
{
    private readonly RedisConnection _connection = RedisTestConnection.Create(redis);

    protected override IWebhookStore CreateStore() => new RedisWebhookStore(_connection, Time);

    public override ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>A <see cref="RedisConnection"/> to the test Redis under a prefix no other test uses.</summary>
public static class RedisTestConnection
{
    public static RedisConnection Create(RedisFixture redis, string? prefix = null) => new(
        Options.Create(new RedisOptions { Configuration = redis.Configuration, KeyPrefix = prefix ?? RedisCollection.NewPrefix() }),
        NullLogger<RedisConnection>.Instance);
}
