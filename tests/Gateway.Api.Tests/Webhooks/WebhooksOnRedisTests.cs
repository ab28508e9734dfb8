using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Gateway.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>Two gateway hosts with <c>Gateway:Calls:Store=Redis</c> on one Redis: the webhook API is the same on both,
/// and a call's events reach a receiver once each, in order, though both replicas see every event.</summary>
[Collection(RedisCollection.Name)]
public sealed class WebhooksOnRedisTests(RedisFixture redis) : IAsyncDisposable
{
    private readonly string _prefix = RedisCollection.NewPrefix();
    private readonly List<GatewayFactory> _replicas = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    private GatewayFactory Replica(string name)
    {
        var replica = new GatewayFactory();
        replica.Settings["Gateway:Calls:Store"] = "Redis";
        replica.Settings["Gateway:Redis:Configuration"] = redis.Configuration;
        replica.Settings["Gateway:Redis:KeyPrefix"] = _prefix;
        replica.Settings["Gateway:Xmpp:InstanceName"] = name;
        _replicas.Add(replica);
        return replica;
    }

    [Fact]
    public async Task ASubscriptionMadeOnOneReplicaIsServedAndDeletedByAnother()
    {
        var a = Replica("a");
        var b = Replica("b");

        var created = await (await a.Client().PostJsonAsync("/webhooks", """{"url":"http://127.0.0.1:9/hook"}""")).JsonAsync();
        var id = (string)created["id"]!;

        Assert.IsType<RedisWebhookStore>(a.Services.GetRequiredService<IWebhookStore>());
        var seen = await (await b.Client().GetAsync($"/webhooks/{id}", Ct)).JsonAsync();
        Assert.Equal((string?)created["url"], (string?)seen["url"]);
        Assert.Equal(HttpStatusCode.NoContent, (await b.Client().DeleteAsync($"/webhooks/{id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.Client().GetAsync($"/webhooks/{id}", Ct)).StatusCode);
        Assert.Empty((await (await a.Client().GetAsync("/webhooks", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task ACallsEventsReachTheReceiverOnceEachInOrderThoughBothReplicasSeeThem()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var a = Replica("a");
        var b = Replica("b");
        var created = await (await b.Client().PostJsonAsync("/webhooks", $$"""{"url":"{{receiver.Url()}}"}""")).JsonAsync();
        _ = a.Client();

        await WebhookTestEvents.PlaceAndEndCallAsync(a.Calls, "ab12cd34");

        var log = await EventuallyAsync(async () => (await (await a.Client().GetAsync($"/webhooks/{(string)created["id"]!}/deliveries", Ct)).JsonAsync())["items"]!.AsArray(),
            l => l.Count == 7 && l.All(d => (string?)d!["state"] == "succeeded"), "seven deliveries succeeded");
        Assert.All(log, d => Assert.Equal(1, (int)d!["attempts"]!));
        Assert.Equal(7, receiver.Requests.Count);
        Assert.Equal(7, receiver.Requests.Select(r => r.Header("webhook-id")).Distinct().Count());
        Assert.Equal(log.Select(d => (string)d!["eventId"]!).Reverse(), receiver.Requests.Select(r => (string)JsonNode.Parse(r.Body)!["data"]!["id"]!));
    }
}
