using Gateway.Api.Replicas;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(RedisCollection.Name)]</c> share one <see cref="RedisFixture"/>; each test
/// keeps to its own key prefix (<see cref="RedisCollection.NewPrefix"/>), so none sees another's keys.</summary>
[CollectionDefinition(RedisCollection.Name)]
public sealed class RedisCollectionDefinition : ICollectionFixture<RedisFixture>;

public static class RedisCollection
{
    public const string Name = "Redis";

    /// <summary>A key prefix no other test uses.</summary>
    public static string NewPrefix() => "test-" + Guid.NewGuid().ToString("N")[..12] + ":";

    /// <summary>A connection of its own to <paramref name="redis"/> under <paramref name="prefix"/>: what one replica has.</summary>
    public static RedisConnection Connect(RedisFixture redis, string prefix) =>
        new(Options.Create(new RedisOptions { Configuration = redis.Configuration, KeyPrefix = prefix }), NullLogger<RedisConnection>.Instance);
}
