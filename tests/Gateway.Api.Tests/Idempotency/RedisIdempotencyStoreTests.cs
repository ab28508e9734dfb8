using Gateway.Api.Configuration;
using Gateway.Api.Hosting;
using Gateway.Api.Idempotency;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Idempotency;

/// <summary>The contract on a real Redis, and what several replicas sharing it add: each replica here is a store with a
/// Redis connection of its own, on this test's key prefix.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisIdempotencyStoreTests(RedisFixture redis) : IdempotencyStoreContract
{
    private static readonly TimeSpan WakeUpBound = TimeSpan.FromSeconds(30);

    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly List<Replica> _replicas = [];

    protected override IIdempotencyStore CreateStore() => NewReplica().Store;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var replica in _replicas)
        {
            await replica.Store.DisposeAsync();
            await replica.Connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task TwoReplicasClaimingOneKeyLetOnlyTheFirstExecute()
    {
        var (first, second) = (NewReplica().Store, NewReplica().Store);

        var begins = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
            await Task.WhenAll(first.TryBeginAsync("k" + i, "fp", Ct).AsTask(), second.TryBeginAsync("k" + i, "fp", Ct).AsTask())));

        foreach (var pair in begins)
        {
            Assert.Single(pair, b => b is IdempotencyBegin.Acquired);
            Assert.Equal("fp", Assert.IsType<IdempotencyBegin.InProgress>(Assert.Single(pair, b => b is not IdempotencyBegin.Acquired)).Fingerprint);
        }
    }

    [Fact]
    public async Task AWaiterOnAnotherReplicaWakesWhenTheFirstCompletes()
    {
        var (first, second) = (NewReplica().Store, NewReplica().Store);
        await first.TryBeginAsync("k", "fp", Ct);
        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await second.TryBeginAsync("k", "fp", Ct));
        Assert.False(waiting.Finished.IsCompleted);

        await first.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        await waiting.Finished.WaitAsync(WakeUpBound, Ct);
        AssertCompleted(await second.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    [Fact]
    public async Task AWaiterOnAnotherReplicaWakesWhenTheFirstReleases()
    {
        var (first, second) = (NewReplica().Store, NewReplica().Store);
        await first.TryBeginAsync("k", "fp", Ct);
        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await second.TryBeginAsync("k", "fp", Ct));

        await first.ReleaseAsync("k", Ct);

        await waiting.Finished.WaitAsync(WakeUpBound, Ct);
        Assert.IsType<IdempotencyBegin.Acquired>(await second.TryBeginAsync("k", "fp", Ct));
    }

    [Fact]
    public async Task AWaiterWakesEvenWhenThePubSubMessageIsLost()
    {
        var first = NewReplica().Store;
        var second = NewReplica();
        await first.TryBeginAsync("k", "fp", Ct);
        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await second.Store.TryBeginAsync("k", "fp", Ct));
        // The waiter's replica hears nothing any more, as while its subscription is down: the wake-up reaches nobody.
        await (await second.Connection.MultiplexerAsync()).GetSubscriber().UnsubscribeAllAsync();

        await first.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        await waiting.Finished.WaitAsync(WakeUpBound, Ct);
        AssertCompleted(await second.Store.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    [Fact]
    public async Task AClaimHoldsItsKeyForTwiceTheRequestTimeout()
    {
        var store = NewReplica(requestTimeout: TimeSpan.FromSeconds(15)).Store;

        await store.TryBeginAsync("k", "fp", Ct);

        var lease = await TimeToLiveAsync("k");
        Assert.InRange(lease, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AClaimOfADeadReplicaExpiresAfterItsLease()
    {
        var dead = NewReplica(requestTimeout: TimeSpan.FromSeconds(1));
        Assert.IsType<IdempotencyBegin.Acquired>(await dead.Store.TryBeginAsync("k", "fp", Ct));
        await dead.Connection.DisposeAsync(); // dies mid-request: neither completes nor releases
        var survivor = NewReplica().Store;
        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await survivor.TryBeginAsync("k", "fp", Ct));

        await waiting.Finished.WaitAsync(WakeUpBound, Ct);

        Assert.IsType<IdempotencyBegin.Acquired>(await survivor.TryBeginAsync("k", "fp", Ct));
    }

    [Fact]
    public async Task ACompletionAfterTheLeaseRanOutChangesNothing()
    {
        var slow = NewReplica(requestTimeout: TimeSpan.FromMilliseconds(500)).Store;
        await slow.TryBeginAsync("k", "fp", Ct);
        var next = NewReplica().Store;
        await EventuallyAsync(() => next.TryBeginAsync("k", "fp", Ct).AsTask(), b => b is IdempotencyBegin.Acquired, "took the key after the lease");

        await slow.CompleteAsync("k", "fp", Response("late"), Ttl, Ct);

        Assert.IsType<IdempotencyBegin.InProgress>(await slow.TryBeginAsync("k", "fp", Ct));
        await next.CompleteAsync("k", "fp", Response("b"), Ttl, Ct);
        AssertCompleted(await slow.TryBeginAsync("k", "fp", Ct), "fp", "b");
    }

    [Fact]
    public async Task AResponseExpiresAfterItsTtl()
    {
        await Store.TryBeginAsync("kept", "fp", Ct);
        await Store.CompleteAsync("kept", "fp", Response("a"), Ttl, Ct);
        await Store.TryBeginAsync("brief", "fp", Ct);
        await Store.CompleteAsync("brief", "fp", Response("b"), TimeSpan.FromMilliseconds(200), Ct);

        Assert.InRange(await TimeToLiveAsync("kept"), Ttl - TimeSpan.FromMinutes(1), Ttl);
        await EventuallyAsync(() => Store.TryBeginAsync("brief", "other", Ct).AsTask(), b => b is IdempotencyBegin.Acquired, "forgot the response");
    }

    [Fact]
    public async Task ACompletedResponseSurvivesARedisRestart()
    {
        var first = NewReplica().Store;
        await first.TryBeginAsync("k", "fp", Ct);
        await first.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        await redis.RestartAsync();

        AssertCompleted(await NewReplica().Store.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    [Fact]
    public async Task TheRedisCallStoreSettingChoosesThisStore()
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddSingleton<RedisConnection>()
            .Configure<CallsOptions>(o => o.Store = CallStoreKind.Redis)
            .Configure<RedisOptions>(o => (o.Configuration, o.KeyPrefix) = (redis.Configuration, _prefix))
            .AddIdempotency();
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisIdempotencyStore>(provider.GetRequiredService<IIdempotencyStore>());
    }

    private Replica NewReplica(TimeSpan? requestTimeout = null)
    {
        var connection = RedisCollection.Connect(redis, _prefix);
        var http = new HttpApiOptions();
        if (requestTimeout is { } timeout) http.RequestTimeout = timeout;
        var replica = new Replica(connection, new RedisIdempotencyStore(connection, Microsoft.Extensions.Options.Options.Create(http), TimeProvider.System));
        _replicas.Add(replica);
        return replica;
    }

    /// <summary>What Redis has left of a key's life (the key as the store names it).</summary>
    private async Task<TimeSpan> TimeToLiveAsync(string key)
    {
        var db = await NewReplica().Connection.DatabaseAsync();
        return await db.KeyTimeToLiveAsync(_prefix + "idem:" + key) ?? TimeSpan.Zero;
    }

    private sealed record Replica(RedisConnection Connection, RedisIdempotencyStore Store);
}
