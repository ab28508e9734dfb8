using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Gateway.Testing.Redis;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.Webhooks.WebhookTestEvents;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// Two replicas' event writers on one Redis, both receiving every call event of the shared log (an in-memory call store
/// stands in for it), as the per-replica log tail hands them over. Leadership is a <see cref="FakeLeadership"/> the test
/// grants and revokes.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class WebhookWriterTakeOverTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly FakeTimeProvider _time = new(T0);
    private readonly InMemoryCallStore _log = new(Options.Create(new CallsOptions()), NullLogger<InMemoryCallStore>.Instance);
    private readonly List<Replica> _replicas = [];
    private StoredSubscription _subscription = null!;

    public async ValueTask InitializeAsync()
    {
        await using var connection = RedisTestConnection.Create(redis, _prefix);
        _subscription = await new RedisWebhookStore(connection, _time).CreateSubscriptionAsync("key", "https://hooks.example/", null, null, null,
            WebhookSignature.NewKey(), Ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    /// <summary>A replica's writer, started on the log as it is now.</summary>
    private async Task<Replica> StartReplicaAsync(string name, bool leading)
    {
        var replica = new Replica(RedisTestConnection.Create(redis, _prefix), new FakeLeadership(leading, name), _time);
        _replicas.Add(replica);
        await replica.Writer.StartAsync(await _log.OpenAsync(Ct), _log, Ct);
        return replica;
    }

    /// <summary>Commits one event for each of <paramref name="calls"/> to the shared log.</summary>
    private async Task<IReadOnlyList<StoredCallEvent>> CommitAsync(params int[] calls) =>
        await _log.CommitAsync(new CallCommit { Events = [.. calls.Select(Connected)] }, Ct);

    /// <summary>Every replica's writer receives the batch, as each replica's log tail hands it every event.</summary>
    private async Task PublishAsync(IReadOnlyList<StoredCallEvent> batch)
    {
        foreach (var replica in _replicas) await replica.Writer.HandleAsync(batch, Ct);
    }

    /// <summary>The events queued for the subscription, in queue order.</summary>
    private async Task<IReadOnlyList<string>> QueuedAsync(Replica replica) =>
        [.. (await replica.Store.ListDeliveriesAsync(_subscription.Id, null, 0, 100, Ct)).Items.Select(d => d.EventId).Reverse()];

    private static string[] Events(int from, int to) => [.. Enumerable.Range(from, to - from + 1).Select(n => $"call{n}.1")];

    [Fact]
    public async Task ANewLeaderQueuesFromTheCheckpointWhatTheOldOneLeftAndNothingTwice()
    {
        var a = await StartReplicaAsync("a", leading: true);
        var b = await StartReplicaAsync("b", leading: false);
        await PublishAsync(await CommitAsync(1, 2, 3));
        Assert.Equal(Events(1, 3), await QueuedAsync(b));

        a.Leadership.Revoke();
        var whileNobodyLeads = await CommitAsync(4, 5);
        await PublishAsync(whileNobodyLeads);
        Assert.Equal(Events(1, 3), await QueuedAsync(b));

        b.Leadership.Grant();
        await EventuallyAsync(() => QueuedAsync(b), q => q.Count == 5, "the new leader's catch-up from the checkpoint");
        await PublishAsync([.. whileNobodyLeads, .. await CommitAsync(6)]);

        Assert.Equal(Events(1, 6), await QueuedAsync(b));
        Assert.Equal(6, (await b.Store.CheckpointAsync(Ct))!.Position);
    }

    [Fact]
    public async Task ABatchThatStartsPastTheCheckpointIsPrecededByTheEventsInBetweenReadFromTheLog()
    {
        var leader = await StartReplicaAsync("a", leading: true);
        await EventuallyAsync(() => leader.Store.CheckpointAsync(Ct), c => c is not null, "the first term's catch-up");
        var events = await CommitAsync(1, 2, 3, 4, 5);

        await leader.Writer.HandleAsync(events.Take(2).ToList(), Ct);
        await leader.Writer.HandleAsync([events[^1]], Ct);

        Assert.Equal(Events(1, 5), await QueuedAsync(leader));
    }

    [Fact]
    public async Task TwoReplicasThatBothBelieveTheyLeadForAMomentStillQueueEachEventOnce()
    {
        var a = await StartReplicaAsync("a", leading: true);
        var b = await StartReplicaAsync("b", leading: true);
        var events = await CommitAsync(1, 2, 3);

        await Task.WhenAll(a.Writer.HandleAsync(events, Ct).AsTask(), b.Writer.HandleAsync(events, Ct).AsTask());

        Assert.Equal(Events(1, 3), await QueuedAsync(a));
    }

    [Fact]
    public async Task ABatchThatQueuesNothingStoresTheCheckpointAtMostOnceASecondAndTheLastOneOnTheWayOut()
    {
        // A store of its own, without the subscription: nothing wants these events.
        var quiet = new Replica(RedisTestConnection.Create(redis, RedisCollection.NewPrefix()), new FakeLeadership(true, "q"), _time);
        _replicas.Add(quiet);
        await quiet.Writer.StartAsync(await _log.OpenAsync(Ct), _log, Ct);
        var start = (await EventuallyAsync(() => quiet.Store.CheckpointAsync(Ct), c => c is not null, "the term's catch-up"))!.Position;
        async Task<long> StoredAsync() => (await quiet.Store.CheckpointAsync(Ct))!.Position;

        var first = await CommitAsync(1);
        await quiet.Writer.HandleAsync(first, Ct);
        Assert.Equal(start, await StoredAsync());

        _time.Advance(WebhookEventWriter.CheckpointInterval);
        var second = await CommitAsync(2);
        await quiet.Writer.HandleAsync(second, Ct);
        Assert.Equal(second[^1].Position, await StoredAsync());

        var third = await CommitAsync(3);
        await quiet.Writer.HandleAsync(third, Ct);
        Assert.Equal(second[^1].Position, await StoredAsync());

        await quiet.Writer.DisposeAsync();
        Assert.Equal(third[^1].Position, await StoredAsync());
    }

    /// <summary>One replica's webhook side: its Redis connection, store, leadership and event writer.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly RedisConnection _connection;
        private readonly WebhookDispatcher _dispatcher;

        public Replica(RedisConnection connection, FakeLeadership leadership, TimeProvider time)
        {
            _connection = connection;
            Leadership = leadership;
            Store = new RedisWebhookStore(connection, time);
            var options = new WebhookOptions();
            // Never started: the writer only wakes it.
            _dispatcher = new WebhookDispatcher(Store, leadership, new ClientFactory(new HttpClientHandler()),
                new WebhookRetryPolicy(options.RetryDelays, 0, new Random(1)), Options.Create(options), time, NullLogger<WebhookDispatcher>.Instance, TestMeters.Webhooks(Store, time));
            var keys = new ApiKeysOptions { ApiKeys = [new ApiKeyDefinition { Name = "key", Scopes = ["*"] }] };
            Writer = new WebhookEventWriter(Store, leadership, _dispatcher, new ServiceCollection().BuildServiceProvider(), new FixedOptions<ApiKeysOptions>(keys),
                Options.Create(new JsonOptions()), time, NullLogger<WebhookEventWriter>.Instance);
        }

        public FakeLeadership Leadership { get; }

        public RedisWebhookStore Store { get; }

        public WebhookEventWriter Writer { get; }

        public async ValueTask DisposeAsync()
        {
            await Writer.DisposeAsync();
            _dispatcher.Dispose();
            await _connection.DisposeAsync();
        }
    }

    private sealed class FixedOptions<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
