using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Replicas;

/// <summary>The subscription lease between replicas on a real redis-server (a short lease, so take-overs are quick).</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisLeaseLeadershipTests(RedisFixture redis) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1.5);
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly List<(RedisLeaseLeadership Leadership, RedisConnection Connection)> _replicas = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await redis.ThawAsync();
        foreach (var (leadership, connection) in _replicas)
        {
            await leadership.StopAsync(CancellationToken.None);
            leadership.Dispose();
            await connection.DisposeAsync();
        }
    }

    private async Task<RedisLeaseLeadership> StartReplicaAsync(string name)
    {
        var options = Options.Create(new RedisOptions { Configuration = redis.Configuration + ",syncTimeout=500,asyncTimeout=500", KeyPrefix = _prefix, LeaseTime = Lease });
        var connection = new RedisConnection(options, NullLogger<RedisConnection>.Instance);
        var leadership = new RedisLeaseLeadership(connection, options, new ReplicaIdentity(Options.Create(new XmppOptions { InstanceName = name })),
            TimeProvider.System, NullLogger<RedisLeaseLeadership>.Instance);
        _replicas.Add((leadership, connection));
        await leadership.StartAsync(Ct);
        return leadership;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "never: " + what);
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task OneOfTwoReplicasHoldsTheLeaseAndBothNameIt()
    {
        var a = await StartReplicaAsync("a");
        await a.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var b = await StartReplicaAsync("b");

        await EventuallyAsync(() => b.LeaderId == "a", "b names a as the holder");
        Assert.True(a.IsLeader);
        Assert.False(b.IsLeader);
        Assert.Equal("a", a.LeaderId);
    }

    [Fact]
    public async Task AHolderThatStopsReleasesTheLeaseForTheOther()
    {
        var a = await StartReplicaAsync("a");
        var term = await a.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var b = await StartReplicaAsync("b");

        await a.StopAsync(Ct);

        Assert.True(term.IsCancellationRequested);
        await b.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal("b", b.LeaderId);
    }

    [Fact]
    public async Task AHolderThatDiesWithoutReleasingIsReplacedOnceItsLeaseRunsOut()
    {
        var a = await StartReplicaAsync("a");
        await a.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var b = await StartReplicaAsync("b");
        await EventuallyAsync(() => b.LeaderId == "a", "b names a as the holder");

        // As a killed process: its connection gone, no release.
        var (_, connectionOfA) = _replicas[0];
        await connectionOfA.DisposeAsync();

        await b.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(15), Ct);
        Assert.False(a.IsLeader);
    }

    [Fact]
    public async Task AHolderCutOffFromRedisStepsDownAndTakesTheLeaseAgainWhenRedisIsBack()
    {
        var a = await StartReplicaAsync("a");
        var term = await a.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        await redis.FreezeAsync();
        await EventuallyAsync(() => term.IsCancellationRequested, "the holder stepping down while it cannot renew");
        Assert.False(a.IsLeader);
        await redis.ThawAsync();

        await a.WhenLeaderAsync(Ct).WaitAsync(TimeSpan.FromSeconds(15), Ct);
    }
}
