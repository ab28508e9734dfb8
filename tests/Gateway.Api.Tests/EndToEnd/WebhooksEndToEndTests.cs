using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>Webhooks end to end (<see cref="EndToEndStack"/>): real Prosody, the reference service, sipp phones, the
/// gateway's real PubSub subscription and SQLite queue, and a real HTTP receiver on loopback that checks every signature
/// with its own verifier.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class WebhooksEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    private async Task<WebhookReceiver> ReceiverAsync(int port = 0) => _stack.Own(await WebhookReceiver.StartAsync(port));

    private static async Task<(string Id, string Secret)> SubscribeAsync(HttpClient client, string url)
    {
        var response = await client.PostJsonAsync("/webhooks", $$"""{"url":"{{url}}"}""");
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /webhooks: {(int)response.StatusCode} {body}");
        var created = JsonNode.Parse(body)!;
        return ((string)created["id"]!, (string)created["secret"]!);
    }

    private static async Task<JsonArray> DeliveriesAsync(HttpClient client, string webhook) =>
        (await (await client.GetAsync($"/webhooks/{webhook}/deliveries", Ct)).JsonAsync())["items"]!.AsArray();

    /// <summary>Places a call from alice to bob, waits until it is connected, hangs it up and waits until it ended and
    /// both phones finished; returns its id and its events as the gateway lists them.</summary>
    private static async Task<(string Id, JsonArray Events)> CallAndHangUpAsync(HttpClient client, SippPhone alice, SippPhone bob)
    {
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await WaitForCallAsync(client, id, State("ended"), "ended");
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        var events = (await (await client.GetAsync($"/calls/{id}/events", Ct)).JsonAsync())["items"]!.AsArray();
        Assert.Equal("call.requested", (string?)events[0]!["type"]);
        Assert.Equal("call.ended", (string?)events[^1]!["type"]);
        Assert.Equal(Enumerable.Range(1, events.Count), events.Select(e => (int)e!["sequence"]!));
        return (id, events);
    }

    /// <summary>The receiver's requests for the call are the call's events, in order, each once, each signed with the secret.</summary>
    private static void AssertReceivedInOrderAndSigned(IReadOnlyList<WebhookReceiver.Request> requests, JsonArray events, string secret)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var request in requests)
        {
            var failure = StandardWebhookVerifier.Verify(secret, request, now);
            Assert.True(failure is null, $"{failure}: {request.Body}");
        }
        var data = requests.Select(r => JsonNode.Parse(r.Body)!["data"]!).ToList();
        Assert.Equal(events.Select(e => (string)e!["id"]!), data.Select(d => (string)d["id"]!));
        Assert.Equal(events.Select(e => (string)e!["type"]!), requests.Select(r => (string)JsonNode.Parse(r.Body)!["type"]!));
        Assert.Equal(requests.Count, requests.Select(r => r.Header("webhook-id")).Distinct().Count());
    }

    [Fact]
    public async Task AWebhookReceiverGetsEveryEventOfACallFromCreateToHangUpInOrderWithValidSignatures()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var receiver = await ReceiverAsync();
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var (webhook, secret) = await SubscribeAsync(client, receiver.Url());

        var (id, events) = await CallAndHangUpAsync(client, alice, bob);

        var requests = await receiver.WaitForAsync(r => r.Count >= events.Count, $"the {events.Count} events of call {id}");
        AssertReceivedInOrderAndSigned(requests, events, secret);
        Assert.All(requests, r => Assert.Equal(id, (string?)JsonNode.Parse(r.Body)!["data"]!["call"]!["id"]));
        var log = await EventuallyAsync(() => DeliveriesAsync(client, webhook), l => l.All(d => (string?)d!["state"] == "succeeded"), "every delivery succeeded");
        Assert.Equal(events.Count, log.Count);
    }

    [Fact]
    public async Task DeliveriesQueuedWhileTheReceiverIsDownSurviveAGatewayRestartAndArriveInOrderWhenItIsBack()
    {
        var database = _stack.Own(new TempSqliteFile("e2e-webhooks"));
        _stack.GatewaySettings["Gateway:Webhooks:DatabasePath"] = database.Path;
        // Enough attempts for the first event to outlast the call and the restart (only a queue's head is attempted).
        _stack.GatewaySettings["Gateway:Webhooks:RetrySchedule"] = "00:00:01, 00:00:02, 00:00:05, " + string.Join(", ", Enumerable.Repeat("00:00:10", 17));
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        // The receiver's port is known, but nothing listens on it yet.
        int port;
        await using (var probe = await WebhookReceiver.StartAsync()) port = probe.Port;
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var (webhook, secret) = await SubscribeAsync(client, $"http://127.0.0.1:{port}/hook");

        var (_, events) = await CallAndHangUpAsync(client, alice, bob);
        var log = await EventuallyAsync(() => DeliveriesAsync(client, webhook), l => l.Count == events.Count && (int)l[^1]!["attempts"]! >= 1,
            "every event queued and the first attempted");
        Assert.All(log, d => Assert.Equal("pending", (string?)d!["state"]));
        Assert.NotNull((string?)log[^1]!["lastError"]);

        client = await _stack.RestartGatewayAsync();
        var receiver = await ReceiverAsync(port);

        var requests = await receiver.WaitForAsync(r => r.Count >= events.Count, $"the {events.Count} queued events", seconds: 60);
        AssertReceivedInOrderAndSigned(requests, events, secret);
        log = await EventuallyAsync(() => DeliveriesAsync(client, webhook), l => l.All(d => (string?)d!["state"] == "succeeded"), "every delivery succeeded");
        Assert.Equal(events.Count, log.Count);
    }

    [Fact]
    public async Task AStatusCallbackGetsEveryEventOfItsCallInOrderSignedAndNoneOfAnotherCallAtTheSameTime()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var dave = await _stack.PhoneAsync("answer", "dave");
        var erin = await _stack.PhoneAsync("answer", "erin");
        var receiver = await ReceiverAsync();
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob),
            ("dave@" + SalesDomain, dave), ("erin@" + SalesDomain, erin));
        var secretResponse = await client.PostAsync("/webhooks/status-callback-secret", null, Ct);
        Assert.Equal(HttpStatusCode.OK, secretResponse.StatusCode);
        var secret = (string)(await secretResponse.JsonAsync())["secret"]!;

        var placed = await client.PostJsonAsync("/calls", $$"""{"from":"{{Alice}}","to":"{{Bob}}","statusCallback":"{{receiver.Url("/mine")}}"}""");
        Assert.Equal(HttpStatusCode.Accepted, placed.StatusCode);
        var mine = (string)(await placed.JsonAsync())["id"]!;
        var other = await CreateCallAsync(client, Erin, Dave);
        foreach (var id in new[] { mine, other }) await WaitForCallAsync(client, id, State("connected"), "connected");
        foreach (var id in new[] { mine, other }) Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        foreach (var id in new[] { mine, other }) await WaitForCallAsync(client, id, State("ended"), "ended");
        foreach (var phone in new[] { alice, bob, dave, erin }) await phone.AssertSucceededAsync();
        var events = (await (await client.GetAsync($"/calls/{mine}/events", Ct)).JsonAsync())["items"]!.AsArray();
        Assert.Equal(["call.requested", "call.ended"], new[] { (string)events[0]!["type"]!, (string)events[^1]!["type"]! });

        var requests = await receiver.WaitForAsync(r => r.Count >= events.Count, $"the {events.Count} events of call {mine}");
        AssertReceivedInOrderAndSigned(requests, events, secret);
        Assert.All(requests, r => Assert.Equal("/mine", r.Path));
        var log = await EventuallyAsync(async () => (await (await client.GetAsync($"/calls/{mine}/status-callback/deliveries", Ct)).JsonAsync())["items"]!.AsArray(),
            l => l.Count == events.Count && l.All(d => (string?)d!["state"] == "succeeded"), "every delivery succeeded");
        Assert.All(log, d => Assert.Equal(mine, (string?)d!["callId"]));
        // The other call named no callback: nothing of it was queued or sent.
        await (await client.GetAsync($"/calls/{other}/status-callback/deliveries", Ct)).AssertProblemAsync(404, "status-callback-not-found");
        Assert.Equal(events.Count, receiver.Requests.Count);
    }
}
