using Gateway.Api.CallEventsSubscription;
using Gateway.Api.CallEventsSubscription.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Health;
using Gateway.Api.Hosting;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.CallEventsSubscription;

/// <summary>
/// Two replicas' followed users on one Redis (a per-test key prefix), wired as <c>AddCallEvents</c> wires them with
/// <c>Gateway:Calls:Store=Redis</c>, without XMPP: replica a holds the subscription, b does not. alice is configured on
/// both. Their clock stands still unless a test moves it: rounds come from the bell alone.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class FollowedUsersOnReplicasTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 13, 0, 0, TimeSpan.Zero));
    private FollowedUsersReplica _a = null!;
    private FollowedUsersReplica _b = null!;

    public async ValueTask InitializeAsync()
    {
        _a = await FollowedUsersReplica.StartAsync(redis, _prefix, new FakeLeadership(leader: true, replicaId: "a"), _time);
        _b = await FollowedUsersReplica.StartAsync(redis, _prefix, new FakeLeadership(leader: false, replicaId: "b") { LeaderId = "a" }, _time);
    }

    public async ValueTask DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [Fact]
    public async Task AUserAddedOnOneReplicaIsFollowedByTheOther()
    {
        var changed = _b.Followed.Changed;

        Assert.Equal(FollowedUserChange.Done, await _a.Followed.AddAsync("grace@support.example.com", "grace-web-password", Ct));

        await changed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["alice@example.com", "grace@support.example.com"], _b.Followed.Users.Select(u => u.Address));
        Assert.Equal("grace-web-password", _b.Followed.Users[1].Password);
        Assert.Equal(FollowedUserSource.Api, _b.Followed.Statuses[1].Source);
    }

    [Fact]
    public async Task APasswordChangedOnOneReplicaIsUsedByTheOther()
    {
        await _a.Followed.AddAsync("grace@support.example.com", "grace-web-password", Ct);
        await UntilAsync(_b.Followed, f => f.Users.Count == 2);
        var changed = _b.Followed.Changed;

        Assert.Equal(FollowedUserChange.Done, await _a.Followed.SetPasswordAsync("grace@support.example.com", "grace-new-password", Ct));

        await changed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("grace-new-password", _b.Followed.Users.Single(u => u.Address == "grace@support.example.com").Password);
    }

    [Fact]
    public async Task AUserRemovedOnOneReplicaIsNoLongerFollowedByTheOther()
    {
        await _a.Followed.AddAsync("grace@support.example.com", "grace-web-password", Ct);
        await UntilAsync(_b.Followed, f => f.Users.Count == 2);
        var changed = _b.Followed.Changed;

        Assert.Equal(FollowedUserChange.Done, await _a.Followed.RemoveAsync("grace@support.example.com", Ct));

        await changed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["alice@example.com"], _b.Followed.Users.Select(u => u.Address));
        Assert.False(_b.Followed.Follows("sip:grace@support.example.com"));
    }

    [Fact]
    public async Task AChangeWhoseRingWasLostIsTakenInByTheNextPeriodicRound()
    {
        await _a.Followed.AddAsync("grace@support.example.com", "grace-web-password", Ct);
        await UntilAsync(_b.Followed, f => f.Users.Count == 2);
        var changed = _b.Followed.Changed;
        var redisOfB = _b.Services.GetRequiredService<RedisConnection>();

        // Removed behind the replicas' backs: no ring.
        Assert.True(await (await redisOfB.DatabaseAsync()).HashDeleteAsync(redisOfB.Key("followed-users"), "grace@support.example.com"));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!changed.IsCompleted)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(changed, Task.Delay(20, timeout.Token));
            timeout.Token.ThrowIfCancellationRequested();
        }
        Assert.Equal(["alice@example.com"], _b.Followed.Users.Select(u => u.Address));
    }

    [Fact]
    public async Task APasswordEncryptedByOneReplicaIsReadByTheOther()
    {
        // b makes the shared key ring's first key; a protects with the ring as it finds it on Redis.
        var bProtector = FollowedUserPasswords.Protector(_b.Services.GetRequiredService<IDataProtectionProvider>());
        Assert.Equal("warm-up", bProtector.Unprotect(bProtector.Protect("warm-up")));

        var payload = FollowedUserPasswords.Protector(_a.Services.GetRequiredService<IDataProtectionProvider>()).Protect("grace-web-password");

        Assert.Equal("grace-web-password", bProtector.Unprotect(payload));
        await _a.Followed.AddAsync("grace@support.example.com", "grace-web-password", Ct);
        Assert.Equal("grace-web-password", Assert.Single(await _b.Services.GetRequiredService<IFollowedUserStore>().ListAsync(Ct)).Password);
    }

    [Fact]
    public async Task ANonLeaderShowsTheLeadersAuthorisationState()
    {
        await _a.Followed.AddAsync("frank@support.example.com", "frank-old-password", Ct);
        await UntilAsync(_b.Followed, f => f.Users.Count == 2);
        var until = new DateTimeOffset(2026, 12, 7, 14, 0, 0, TimeSpan.Zero);

        _a.Followed.Authorized(_a.Followed.Users[0], until, ["sip:alice@example.com", "sip:bob@example.com"]);
        _a.Followed.Failed(_a.Followed.Users[1], "bad-request: Authentication failed");

        await UntilAsync(_b.Followed, f => f.Statuses[0].IsAuthorized && f.Statuses[1].LastError is not null);
        var list = FollowedUsersApi.ListFollowedUsers(_b.Followed, _b.Leadership).Value!;
        Assert.Equal("a", list.SubscriptionHolder);
        var alice = list.Items[0];
        Assert.Equal(("alice@example.com", "configuration", true, until), (alice.Address, alice.Source, alice.Authorized, alice.AuthorizedUntil));
        Assert.Equal(["alice@example.com", "bob@example.com"], alice.Covers);
        var frank = list.Items[1];
        Assert.Equal(("frank@support.example.com", "api", false, "bad-request: Authentication failed"), (frank.Address, frank.Source, frank.Authorized, frank.LastError));
        Assert.True(_b.Followed.Follows("sip:bob@example.com"));
    }

    [Fact]
    public async Task ANonLeadersReadinessNamesTheHolderWithTheStatusesItReported()
    {
        _a.Followed.Authorized(_a.Followed.Users[0], new DateTimeOffset(2026, 12, 7, 14, 0, 0, TimeSpan.Zero), ["sip:alice@example.com", "sip:bob@example.com"]);
        await UntilAsync(_b.Followed, f => f.Statuses[0].IsAuthorized);
        await using var calls = new ServiceCollection().AddLogging().AddInMemoryCalls().BuildServiceProvider();
        using var manager = new ActiveCallsSubscriptionManager(new FakeXmppPool(), _b.Leadership, Options.Create(new CallsOptions { Store = CallStoreKind.Redis }),
            await calls.StartCallsAsync(), _b.Followed, _b.Services.GetRequiredService<IOptions<EventsOptions>>(), TimeProvider.System,
            NullLogger<ActiveCallsSubscriptionManager>.Instance);
        await manager.StartAsync(Ct);
        try
        {
            await EventuallyAsync(() => Task.FromResult(manager.Status.State), state => state == EventsState.Standby, "standing by");

            var health = await new EventsSubscriptionHealthCheck(manager, _b.Followed, _b.Leadership).CheckHealthAsync(new HealthCheckContext(), Ct);

            Assert.Equal("replica a holds the subscription; this one stands by; followed users (as replica a authorised them): " +
                         "alice@example.com (authorised until 2026-12-07T14:00:00.0000000+00:00, covering alice@example.com bob@example.com)", health.Description);
        }
        finally
        {
            await manager.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Waits (at most 30 s) for each status change on <paramref name="followed"/> until <paramref name="condition"/> holds.</summary>
    private static async Task UntilAsync(FollowedUsers followed, Func<FollowedUsers, bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var changed = followed.StatusesChanged;
            if (condition(followed)) return;
            await changed.WaitAsync(timeout.Token);
        }
    }

    /// <summary>One replica's followed users: the services <c>AddCallEvents</c> registers on the Redis store, with
    /// <see cref="FollowedUsers"/> and <see cref="FollowedUsersReplication"/> started as the host starts them.</summary>
    private sealed class FollowedUsersReplica : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        private FollowedUsersReplica(ServiceProvider services) => _services = services;

        public IServiceProvider Services => _services;

        public FollowedUsers Followed => _services.GetRequiredService<FollowedUsers>();

        public IReplicaLeadership Leadership => _services.GetRequiredService<IReplicaLeadership>();

        public static async Task<FollowedUsersReplica> StartAsync(RedisFixture redis, string prefix, IReplicaLeadership leadership, TimeProvider time)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            var services = builder.Services;
            services.AddLogging();
            services.AddSingleton(time);
            services.Configure<CallsOptions>(o => o.Store = CallStoreKind.Redis);
            services.Configure<RedisOptions>(o =>
            {
                o.Configuration = redis.Configuration;
                o.KeyPrefix = prefix;
            });
            services.Configure<EventsOptions>(o =>
            {
                o.SipAddress = "alice@example.com";
                o.Password = "alice-web-password";
            });
            services.AddSingleton<RedisConnection>();
            services.AddSingleton(leadership);
            builder.AddCallEvents();
            var replica = new FollowedUsersReplica(services.BuildServiceProvider());
            await replica.Followed.StartAsync(Ct);
            await replica._services.GetRequiredService<FollowedUsersReplication>().StartAsync(Ct);
            return replica;
        }

        public async ValueTask DisposeAsync()
        {
            await _services.GetRequiredService<FollowedUsersReplication>().StopAsync(CancellationToken.None);
            await _services.DisposeAsync();
        }
    }
}
