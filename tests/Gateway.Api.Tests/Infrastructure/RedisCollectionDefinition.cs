using Gateway.Testing.Redis;

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
}
