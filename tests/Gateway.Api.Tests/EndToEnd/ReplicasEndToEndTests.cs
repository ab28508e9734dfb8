using System.Net;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using Gateway.Testing.Redis;
using Gateway.Testing.Sip;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// Two gateway replicas on one real redis-server, each on Kestrel with its own XMPP pool on the real Prosody, in front
/// of the reference service and sipp phones: they behave as one gateway to every client. Replica A starts first and
/// holds the subscription lease; B stands by.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class ReplicasEndToEndTests(ProsodyFixture prosody, RedisFixture redis) : IAsyncLifetime, IClassFixture<RedisFixture>
{
    private readonly EndToEndStack _stack = new(prosody) { OnKestrel = true };
    private HttpClient _a = null!;
    private HttpClient _b = null!;
    private GatewayFactory _replicaB = null!;
    private SippPhone _alice = null!;
    private SippPhone _bob = null!;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    private async Task StartAsync()
    {
        _stack.GatewaySettings["Gateway:Calls:Store"] = "Redis";
        _stack.GatewaySettings["Gateway:Redis:Configuration"] = redis.Configuration;
        _stack.GatewaySettings["Gateway:Redis:KeyPrefix"] = RedisCollection.NewPrefix();
        _stack.GatewaySettings["Gateway:Redis:LeaseTime"] = "00:00:03";
        _alice = await _stack.PhoneAsync("answer", "alice");
        _bob = await _stack.PhoneAsync("answer", "bob");
        _a = await _stack.StartAsync(("alice@activecalls.test", _alice), ("bob@activecalls.test", _bob));
        (_replicaB, _b) = await _stack.StartReplicaAsync("e2e-b");
    }

    private static async Task HangUpAsync(HttpClient client, string id)
    {
        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.True(hangup.StatusCode == HttpStatusCode.Accepted, $"DELETE: {(int)hangup.StatusCode} {await hangup.Content.ReadAsStringAsync(Ct)}");
    }

    private int InvitesReceived(SippPhone phone) => phone.Messages().Count(m => !m.Sent && m.Method == "INVITE");

    [Fact]
    public async Task ACallPlacedThroughOneReplicaIsListedFollowedAndHungUpThroughTheOther()
    {
        await StartAsync();
        var sseOnB = _stack.Own(await SseStreamClient.OpenAsync(_b, "/calls/stream"));
        await sseOnB.WaitForAsync(m => m.Count >= 1, "the snapshot");
        var signalROnB = _stack.Own(await SignalRStreamClient.ConnectAsync(_replicaB.KestrelAddress!, GatewayFactory.AdminKey));
        await signalROnB.SubscribeAsync(new { scope = "all" });

        var id = await CreateCallAsync(_a, Alice, Bob);
        var listed = await (await _b.GetAsync("/calls", Ct)).JsonAsync();
        Assert.Contains(id, listed["items"]!.AsArray().Select(c => (string)c!["id"]!));
        await WaitForCallAsync(_b, id, State("connected"), "connected on B");
        await HangUpAsync(_b, id);

        Assert.Equal("terminated", (string?)(await WaitForCallAsync(_a, id, State("ended"), "ended on A"))["endReason"]);
        await sseOnB.WaitForEventAsync(id, "call.ended");
        await signalROnB.WaitForEventAsync(id, "call.ended");
        var history = await EventsAsync(_b, id, withIds: true);
        Assert.Equal(history, await EventsAsync(_a, id, withIds: true));
        Assert.Equal(Enumerable.Range(1, history.Count).Select(s => $"{id}.{s}"), history.Select(h => h.Split(' ')[0]));
        Assert.Equal(history, sseOnB.Events(id));
        Assert.Equal(history, signalROnB.Events(id));
    }

    [Fact]
    public async Task TheSameIdempotencyKeySentToOneReplicaThenTheOtherPlacesOneCall()
    {
        await StartAsync();
        const string body = $$"""{"from":"{{Alice}}","to":"{{Bob}}"}""";

        var first = await _a.PostJsonAsync("/calls", body, idempotencyKey: "replicated-key-1");
        var second = await _b.PostJsonAsync("/calls", body, idempotencyKey: "replicated-key-1");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var id = (string)(await first.JsonAsync())["id"]!;
        Assert.Equal(id, (string)(await second.JsonAsync())["id"]!);
        await WaitForCallAsync(_b, id, State("connected"), "connected");
        await HangUpAsync(_a, id);
        await WaitForCallAsync(_b, id, State("ended"), "ended");
        Assert.Equal(1, InvitesReceived(_alice));
    }

    [Fact]
    public async Task AWebhookSubscribedOnOneReplicaGetsEachEventOfACallPlacedOnTheOtherOnce()
    {
        await StartAsync();
        var receiver = _stack.Own(await WebhookReceiver.StartAsync());
        var subscribed = await _b.PostJsonAsync("/webhooks", $$"""{"url":"{{receiver.Url()}}"}""");
        Assert.Equal(HttpStatusCode.Created, subscribed.StatusCode);
        var secret = (string)(await subscribed.JsonAsync())["secret"]!;

        var id = await CreateCallAsync(_a, Alice, Bob);
        await WaitForCallAsync(_b, id, State("connected"), "connected");
        await HangUpAsync(_b, id);
        await WaitForCallAsync(_a, id, State("ended"), "ended");
        var history = await EventsAsync(_a, id, withIds: true);
        await receiver.WaitForAsync(r => r.Any(x => x.Body.Contains("call.ended", StringComparison.Ordinal)), "call.ended delivered");

        var now = DateTimeOffset.UtcNow;
        Assert.All(receiver.Requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, now)));
        var delivered = receiver.Requests.Select(r => System.Text.Json.Nodes.JsonNode.Parse(r.Body)!).ToList();
        Assert.Equal(history, delivered.Select(d => $"{(string)d["data"]!["id"]!} {(string)d["type"]!}"));
        Assert.Equal(delivered.Count, receiver.Requests.Select(r => r.Header("webhook-id")).Distinct().Count());
    }

    [Fact]
    public async Task AStatusCallbackNamedOnOneReplicaGetsEachEventOfItsCallOnceFromTheLeader()
    {
        await StartAsync();
        var receiver = _stack.Own(await WebhookReceiver.StartAsync());
        var secretResponse = await _a.PostAsync("/webhooks/status-callback-secret", null, Ct);
        Assert.Equal(HttpStatusCode.OK, secretResponse.StatusCode);
        var secret = (string)(await secretResponse.JsonAsync())["secret"]!;

        // Placed on B (the secret was made on A: both read it from Redis); A leads, so A queues and sends.
        var placed = await _b.PostJsonAsync("/calls", $$"""{"from":"{{Alice}}","to":"{{Bob}}","statusCallback":"{{receiver.Url()}}"}""");
        Assert.Equal(HttpStatusCode.Accepted, placed.StatusCode);
        var id = (string)(await placed.JsonAsync())["id"]!;
        Assert.Equal(receiver.Url(), (string?)(await (await _a.GetAsync($"/calls/{id}", Ct)).JsonAsync())["statusCallback"]!["url"]);
        await WaitForCallAsync(_a, id, State("connected"), "connected");
        await HangUpAsync(_a, id);
        await WaitForCallAsync(_b, id, State("ended"), "ended");
        var history = await EventsAsync(_a, id, withIds: true);
        await receiver.WaitForAsync(r => r.Any(x => x.Body.Contains("call.ended", StringComparison.Ordinal)), "call.ended delivered");

        var now = DateTimeOffset.UtcNow;
        Assert.All(receiver.Requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, now)));
        var delivered = receiver.Requests.Select(r => System.Text.Json.Nodes.JsonNode.Parse(r.Body)!).ToList();
        Assert.Equal(history, delivered.Select(d => $"{(string)d["data"]!["id"]!} {(string)d["type"]!}"));
        Assert.Equal(delivered.Count, receiver.Requests.Select(r => r.Header("webhook-id")).Distinct().Count());
        await EventuallyAsync(async () => (await (await _b.GetAsync($"/calls/{id}/status-callback/deliveries", Ct)).JsonAsync())["items"]!.AsArray(),
            l => l.Count == history.Count && l.All(d => (string?)d!["state"] == "succeeded"), "every delivery succeeded, as B sees it");
    }

    [Fact]
    public async Task ACursorHandedOutByOneReplicaResumesOnTheOtherWithoutASnapshot()
    {
        await StartAsync();
        var onA = _stack.Own(await SseStreamClient.OpenAsync(_a, "/calls/stream"));
        await onA.WaitForAsync(m => m.Count >= 1, "the snapshot");
        var id = await CreateCallAsync(_a, Alice, Bob);
        var seen = await onA.WaitForEventAsync(id, "call.connected");
        // The last message A sent: call.connected, or a leg change after it.
        var (cursor, lastSeen) = (seen[^1].Cursor, seen[^1].EventId);
        await onA.DisposeAsync();

        await HangUpAsync(_a, id);
        await WaitForCallAsync(_a, id, State("ended"), "ended");
        var onB = _stack.Own(await SseStreamClient.OpenAsync(_b, "/calls/stream", lastEventId: cursor));
        await onB.WaitForEventAsync(id, "call.ended");

        Assert.DoesNotContain(onB.Messages, m => m.Kind == "snapshot");
        var history = await EventsAsync(_a, id, withIds: true);
        Assert.Equal(history.SkipWhile(h => !h.StartsWith(lastSeen + " ", StringComparison.Ordinal)).Skip(1), onB.Events(id));
    }

    [Fact]
    public async Task WhenTheSubscriptionHolderIsCutOffFromRedisTheOtherTakesOverAndNoEventIsLost()
    {
        await StartAsync();
        var sseOnB = _stack.Own(await SseStreamClient.OpenAsync(_b, "/calls/stream"));
        await sseOnB.WaitForAsync(m => m.Count >= 1, "the snapshot");
        var id = await CreateCallAsync(_b, Alice, Bob);
        await WaitForCallAsync(_b, id, State("connected"), "connected");

        // A loses Redis as a killed or partitioned process does: no release of its lease, which has to run out.
        await _stack.Gateway.Services.GetRequiredService<RedisConnection>().DisposeAsync();
        await HangUpAsync(_b, id);

        Assert.Equal("terminated", (string?)(await WaitForCallAsync(_b, id, State("ended"), "ended after the take-over", seconds: 60))["endReason"]);
        Assert.True(_replicaB.Services.GetRequiredService<IReplicaLeadership>().IsLeader);
        Assert.False(_stack.Gateway.Services.GetRequiredService<IReplicaLeadership>().IsLeader);
        await sseOnB.WaitForEventAsync(id, "call.ended");
        var history = await EventsAsync(_b, id, withIds: true);
        Assert.Equal(Enumerable.Range(1, history.Count).Select(s => $"{id}.{s}"), history.Select(h => h.Split(' ')[0]));
        Assert.Equal(history, sseOnB.Events(id));
    }

    [Fact]
    public async Task WhenTheSubscriptionHolderStopsTheOtherTakesOverAndNoEventIsLost()
    {
        await StartAsync();
        var sseOnB = _stack.Own(await SseStreamClient.OpenAsync(_b, "/calls/stream"));
        await sseOnB.WaitForAsync(m => m.Count >= 1, "the snapshot");
        var id = await CreateCallAsync(_b, Alice, Bob);
        await WaitForCallAsync(_b, id, State("connected"), "connected");

        // A goes away while the call is up; the call is hung up through B while nobody holds the subscription.
        await _stack.Gateway.DisposeAsync();
        await HangUpAsync(_b, id);

        Assert.Equal("terminated", (string?)(await WaitForCallAsync(_b, id, State("ended"), "ended after the take-over", seconds: 60))["endReason"]);
        Assert.True(_replicaB.Services.GetRequiredService<IReplicaLeadership>().IsLeader);
        await sseOnB.WaitForEventAsync(id, "call.ended");
        var history = await EventsAsync(_b, id, withIds: true);
        Assert.Equal(Enumerable.Range(1, history.Count).Select(s => $"{id}.{s}"), history.Select(h => h.Split(' ')[0]));
        Assert.Equal(history, sseOnB.Events(id));
    }
}
