using System.Net;
using Gateway.Api.Calls.Store;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Gateway.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.Webhooks.WebhookTestEvents;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// Two replicas' dispatchers on one Redis queue, each sending through endpoints of its own so the test sees who sent
/// what. Leadership is a <see cref="FakeLeadership"/>; time is a <see cref="FakeTimeProvider"/> that only moves when the
/// test moves it.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class WebhookReplicaDispatchTests(RedisFixture redis) : IAsyncDisposable
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly FakeTimeProvider _time = new(T0);
    private readonly WebhookOptions _options = new() { RetryJitter = 0 };
    private readonly List<Replica> _replicas = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    private async Task<Replica> StartReplicaAsync(string name, bool leading)
    {
        var replica = new Replica(RedisTestConnection.Create(redis, _prefix), new FakeLeadership(leading, name), _time, _options);
        _replicas.Add(replica);
        await replica.Dispatcher.StartAsync(Ct);
        return replica;
    }

    private static async Task<StoredSubscription> SubscribeAsync(Replica replica) =>
        await replica.Store.CreateSubscriptionAsync("key", "https://hooks.example/", null, null, null, WebhookSignature.NewKey(), Ct);

    private static async Task EnqueueAsync(Replica replica, StoredSubscription subscription, params int[] calls)
    {
        await replica.Store.EnqueueAsync([.. calls.Select(n => new NewDelivery(subscription.Id, Connected(n), $"body {n}"))], new CallLogHead("e", calls[^1]), Ct);
        replica.Dispatcher.Wake();
    }

    private static async Task<IReadOnlyList<WebhookDelivery>> LogAsync(Replica replica, StoredSubscription subscription) =>
        (await replica.Store.ListDeliveriesAsync(subscription.Id, null, 0, 100, Ct)).Items;

    [Fact]
    public async Task OnlyTheLeaderSendsAndANonLeaderSendsNothing()
    {
        var leader = await StartReplicaAsync("a", leading: true);
        var follower = await StartReplicaAsync("b", leading: false);
        var subscription = await SubscribeAsync(leader);

        await EnqueueAsync(leader, subscription, 1, 2, 3);
        follower.Dispatcher.Wake();

        var log = await EventuallyAsync(() => LogAsync(follower, subscription), l => l.All(d => d.State == DeliveryState.Succeeded), "all delivered");
        Assert.All(log, d => Assert.Equal(1, d.Attempts));
        Assert.Equal(["body 1", "body 2", "body 3"], leader.Endpoints.To(null).Select(r => r.Body));
        Assert.Empty(follower.Endpoints.To(null));
    }

    [Fact]
    public async Task ARetryScheduledByADeadReplicaIsSentByTheNextLeader()
    {
        var dying = await StartReplicaAsync("a", leading: true);
        var next = await StartReplicaAsync("b", leading: false);
        dying.Endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var subscription = await SubscribeAsync(dying);
        await EnqueueAsync(dying, subscription, 1, 2);
        var first = await EventuallyAsync(() => LogAsync(next, subscription), l => l[^1].Attempts == 1, "the first attempt recorded");
        Assert.Equal(T0 + _options.RetryDelays[0], first[^1].NextAttemptAt);

        await dying.DisposeAsync();
        _replicas.Remove(dying);
        next.Leadership.Grant();
        _time.Advance(_options.RetryDelays[0]);

        var log = await EventuallyAsync(() => LogAsync(next, subscription), l => l.All(d => d.State == DeliveryState.Succeeded), "both delivered by the new leader");
        Assert.Equal([1, 2], log.Select(d => d.Attempts));
        var sent = next.Endpoints.To(null);
        Assert.Equal(["body 1", "body 2"], sent.Select(r => r.Body));
        Assert.Equal(dying.Endpoints.To(null).Single().MessageId, sent[0].MessageId);
        Assert.Equal(T0 + _options.RetryDelays[0], sent[0].At);
    }

    [Fact]
    public async Task ALeaderThatLosesTheLeaseStopsSendingAndSendsAgainOnItsNextTerm()
    {
        var a = await StartReplicaAsync("a", leading: true);
        var b = await StartReplicaAsync("b", leading: false);
        a.Endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var subscription = await SubscribeAsync(a);
        await EnqueueAsync(a, subscription, 1);
        await EventuallyAsync(() => LogAsync(b, subscription), l => l[0].Attempts == 1, "the first attempt recorded");

        a.Leadership.Revoke();
        b.Leadership.Grant();
        _time.Advance(_options.RetryDelays[0]);
        await EventuallyAsync(() => LogAsync(b, subscription), l => l[0].State == DeliveryState.Succeeded, "the retry sent by b");
        b.Leadership.Revoke();
        a.Leadership.Grant();
        a.Endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        await EnqueueAsync(a, subscription, 2);

        await EventuallyAsync(() => LogAsync(a, subscription), l => l.All(d => d.State == DeliveryState.Succeeded), "the next event sent by a");
        Assert.Equal(["body 1", "body 2"], a.Endpoints.To(null).Select(r => r.Body));
        Assert.Equal(["body 1"], b.Endpoints.To(null).Select(r => r.Body));
    }

    /// <summary>One replica's sending side: its Redis connection, store, leadership, endpoints and dispatcher.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly RedisConnection _connection;
        private bool _disposed;

        public Replica(RedisConnection connection, FakeLeadership leadership, FakeTimeProvider time, WebhookOptions options)
        {
            _connection = connection;
            Leadership = leadership;
            Store = new RedisWebhookStore(connection, time);
            Endpoints = new ScriptedEndpoints(time);
            Dispatcher = new WebhookDispatcher(Store, leadership, new ClientFactory(Endpoints), new WebhookRetryPolicy(options.RetryDelays, 0, new Random(1)),
                Options.Create(options), time, NullLogger<WebhookDispatcher>.Instance, TestMeters.Webhooks(Store, time));
        }

        public FakeLeadership Leadership { get; }

        public RedisWebhookStore Store { get; }

        public ScriptedEndpoints Endpoints { get; }

        public WebhookDispatcher Dispatcher { get; }

        /// <summary>The replica dies: it stops sending and its lease is gone.</summary>
        public async ValueTask DisposeAsync()
        {
            if (_disposed) return;
            _disposed = true;
            await Dispatcher.StopAsync(CancellationToken.None);
            Leadership.Revoke();
            Dispatcher.Dispose();
            await _connection.DisposeAsync();
        }
    }
}
