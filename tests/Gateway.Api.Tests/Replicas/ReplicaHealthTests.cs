using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Replicas;

/// <summary>A gateway on the Redis store (fake XMPP) while its Redis is killed and started again: not ready while Redis
/// is gone, ready again by itself after, and nothing Redis acknowledged lost. Its own redis-server, since it kills it.</summary>
public sealed class ReplicaHealthTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncDisposable
{
    private readonly GatewayFactory _gateway = new();

    public async ValueTask DisposeAsync()
    {
        await redis.StartAsync();
        await _gateway.DisposeAsync();
    }

    private HttpClient Start()
    {
        _gateway.Settings["Gateway:Calls:Store"] = "Redis";
        _gateway.Settings["Gateway:Redis:Configuration"] = redis.Configuration + ",connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";
        _gateway.Settings["Gateway:Redis:KeyPrefix"] = RedisCollection.NewPrefix();
        return _gateway.Client();
    }

    private static async Task<JsonObject> ReadyWhenAsync(HttpClient client, HttpStatusCode status, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var response = await client.GetAsync("/health/ready", Ct);
            var body = await response.JsonAsync();
            if (response.StatusCode == status) return body;
            Assert.True(DateTime.UtcNow < deadline, $"never {what}: {(int)response.StatusCode} {body.ToJsonString()}");
            await Task.Delay(100, Ct);
        }
    }

    [Fact]
    public async Task AReplicaIsNotReadyWhileRedisIsDownAndReadyAgainWithItsCallsWhenRedisIsBack()
    {
        var client = Start();
        var ready = await ReadyWhenAsync(client, HttpStatusCode.OK, "ready");
        Assert.StartsWith("replica ", (string?)ready["checks"]!["replica"]!["description"], StringComparison.Ordinal);
        _gateway.Xmpp.Reply(iq => FakeXmppPool.DefaultReply(iq, callSetupId: "kept0001"));
        var created = await client.PostJsonAsync("/calls", """{"from":"sip:alice@example.com","to":"sip:bob@example.com","callSetupId":"kept0001"}""");
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);

        await redis.KillAsync();
        var down = await ReadyWhenAsync(client, HttpStatusCode.ServiceUnavailable, "not ready without Redis");
        Assert.Equal("Unhealthy", (string?)down["checks"]!["replica"]!["status"]);
        Assert.Contains("Redis does not answer", (string?)down["checks"]!["replica"]!["description"], StringComparison.Ordinal);

        await redis.StartAsync();
        await ReadyWhenAsync(client, HttpStatusCode.OK, "ready again once Redis is back");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/calls/kept0001", Ct)).StatusCode);
    }

    [Fact]
    public async Task AReplicaStartedWhileRedisIsDownBecomesReadyWhenRedisComesUp()
    {
        await redis.KillAsync();
        var client = Start();

        var down = await ReadyWhenAsync(client, HttpStatusCode.ServiceUnavailable, "not ready without Redis");
        Assert.Equal("Unhealthy", (string?)down["checks"]!["replica"]!["status"]);

        await redis.StartAsync();
        await ReadyWhenAsync(client, HttpStatusCode.OK, "ready once Redis is up");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/calls", Ct)).StatusCode);
    }
}
