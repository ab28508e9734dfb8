using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// Per-call status callbacks (<c>statusCallback</c> of <c>POST /calls</c>) from the real gateway host, through its real
/// SQLite files, to a real Kestrel receiver on loopback. The create goes through the fake XMPP pool; the call's legs are
/// driven through the tracker as the PubSub subscription would drive them.
/// </summary>
public sealed class StatusCallbackTests : IAsyncLifetime
{
    private const string CallId = "ab12cd34";
    private static readonly string[] CallEvents =
        ["call.requested", "call.caller-ringing", "call.caller-answered", "call.callee-ringing", "call.connected", "call.updated", "call.ended"];

    private readonly List<IAsyncDisposable> _owned = [];
    private GatewayFactory _gateway = null!;
    private WebhookReceiver _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _gateway = NewGateway();
        _receiver = await WebhookReceiver.StartAsync();
        _owned.Add(_receiver);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
    }

    private static GatewayFactory NewGateway(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Webhooks:RetrySchedule"] = "00:00:00.2, 00:00:00.2";
        gateway.Settings["Gateway:Webhooks:RetryJitter"] = "0";
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) gateway.Settings[key] = value;
        return gateway;
    }

    private async Task<string> CallbackSecretAsync(string key = GatewayFactory.AdminKey)
    {
        var response = await _gateway.Client(key).PostAsync("/webhooks/status-callback-secret", null, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)(await response.JsonAsync())["secret"]!;
    }

    private static string CreateBody(string? statusCallback, string[]? events = null, string callSetupId = CallId) =>
        JsonSerializer.Serialize(new { from = "sip:alice@example.com", to = "sip:bob@example.com", callSetupId, statusCallback, statusCallbackEvents = events });

    private async Task<JsonObject> PlaceAsync(string statusCallback, string[]? events = null, string key = GatewayFactory.AdminKey, string callSetupId = CallId)
    {
        var response = await _gateway.Client(key).PostJsonAsync("/calls", CreateBody(statusCallback, events, callSetupId));
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /calls: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>The rest of the click-to-call the create began: both legs ring, answer and end.</summary>
    private async Task RunCallAsync(string id = CallId)
    {
        var calls = _gateway.Calls;
        await calls.ApplyPublishedAsync(SetupLeg(id, "requested"), "setup-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(SetupLeg(id, "confirmed", toTag: "tt-1"), "setup-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(CalleeLeg(id, "requested"), "callee-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(CalleeLeg(id, "confirmed", toTag: "tt-2"), "callee-" + id, Node, Ct);
        await calls.ApplyRetractedAsync("setup-" + id, Ct);
        await calls.ApplyRetractedAsync("callee-" + id, Ct);
    }

    private async Task<HttpResponseMessage> DeliveriesAsync(string key, string callId = CallId) =>
        await _gateway.Client(key).GetAsync($"/calls/{callId}/status-callback/deliveries", Ct);

    private static IEnumerable<string> Types(IEnumerable<WebhookReceiver.Request> requests) =>
        requests.Select(r => (string)JsonNode.Parse(r.Body)!["type"]!);

    private static IEnumerable<string> CallIds(IEnumerable<WebhookReceiver.Request> requests) =>
        requests.Select(r => (string)JsonNode.Parse(r.Body)!["data"]!["call"]!["id"]!);

    [Fact]
    public async Task TheCallbackGetsEveryEventOfItsCallAloneInOrderSignedWithTheKeysCallbackSecret()
    {
        var secret = await CallbackSecretAsync();
        var placed = await PlaceAsync(_receiver.Url("/mine"));
        Assert.Equal(_receiver.Url("/mine"), (string?)placed["statusCallback"]!["url"]);

        await RunCallAsync();
        // Another call at the same time, without a callback: none of its events go to this one's URL.
        await WebhookTestEvents.PlaceAndEndCallAsync(_gateway.Calls, "other123");

        var requests = await _receiver.WaitForAsync(r => r.Count >= 7, "the call's seven events");
        Assert.Equal(CallEvents, Types(requests));
        Assert.All(CallIds(requests), id => Assert.Equal(CallId, id));
        Assert.All(requests, r => Assert.Equal("/mine", r.Path));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, DateTimeOffset.UtcNow)));
        var events = (await (await _gateway.Client().GetAsync($"/calls/{CallId}/events", Ct)).JsonAsync())["items"]!.AsArray();
        Assert.Equal(events.Select(e => (string?)e!["id"]), requests.Select(r => (string?)JsonNode.Parse(r.Body)!["data"]!["id"]));

        // The call keeps its callback: the URL and its filter, no secret.
        var call = await (await _gateway.Client().GetAsync($"/calls/{CallId}", Ct)).JsonAsync();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse($$"""{"url":"{{_receiver.Url("/mine")}}","events":null}"""), call["statusCallback"]), call.ToJsonString());
        Assert.DoesNotContain("whsec_", call.ToJsonString(), StringComparison.Ordinal);
        var log = await EventuallyAsync(async () => (await (await DeliveriesAsync(GatewayFactory.AdminKey)).JsonAsync())["items"]!.AsArray(),
            l => l.Count == 7 && l.All(d => (string?)d!["state"] == "succeeded"), "seven succeeded deliveries");
        Assert.Equal(requests.Select(r => r.Header("webhook-id")).Reverse(), log.Select(d => (string)d!["messageId"]!));
        // A status callback is not one of the key's registered webhooks.
        Assert.Empty((await (await _gateway.Client().GetAsync("/webhooks", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task OnlyTheEventTypesOfTheFilterAreSent()
    {
        await CallbackSecretAsync();
        var placed = await PlaceAsync(_receiver.Url(), ["call.connected", "call.ended"]);
        Assert.Equal(["call.connected", "call.ended"], placed["statusCallback"]!["events"]!.AsArray().Select(e => (string)e!));

        await RunCallAsync();

        // 404 until the webhook writer has made the callback on the call's first event.
        await EventuallyAsync(async () => (await (await DeliveriesAsync(GatewayFactory.AdminKey)).JsonAsync())["items"] as JsonArray ?? [],
            l => l.Count == 2 && l.All(d => (string?)d!["state"] == "succeeded"), "two succeeded deliveries");
        Assert.Equal(["call.connected", "call.ended"], Types(_receiver.Requests));
    }

    [Fact]
    public async Task APrivateTargetIsRefusedWithProductionSettingsBeforeAnyCommand()
    {
        // The defaults of Gateway:Webhooks (the test host allows private targets and plain http).
        await _gateway.DisposeAsync();
        _gateway = NewGateway(new Dictionary<string, string?>
        {
            ["Gateway:Webhooks:AllowPrivateTargets"] = "false",
            ["Gateway:Webhooks:RequireHttps"] = "true",
        });
        await CallbackSecretAsync();

        var loopback = await _gateway.Client().PostJsonAsync("/calls", CreateBody("https://127.0.0.1/hook"));
        var plain = await _gateway.Client().PostJsonAsync("/calls", CreateBody("http://hooks.example.com/hook"));

        var problem = await loopback.AssertProblemAsync(400, "validation-failed");
        Assert.Contains("127.0.0.1, a loopback address", (string?)problem["errors"]!["statusCallback"]![0], StringComparison.Ordinal);
        Assert.Contains("must use https", (string?)(await plain.AssertProblemAsync(400, "validation-failed"))["errors"]!["statusCallback"]![0],
            StringComparison.Ordinal);
        Assert.Empty(_gateway.Xmpp.Sent);
    }

    [Theory]
    [InlineData("""{"statusCallback":"not a url"}""", "statusCallback", "absolute http(s) URL")]
    [InlineData("""{"statusCallback":"ftp://hooks.example.com/"}""", "statusCallback", "absolute http(s) URL")]
    [InlineData("""{"statusCallback":"http://user:pw@127.0.0.1/hook"}""", "statusCallback", "credentials")]
    [InlineData("""{"statusCallback":"http://127.0.0.1/hook","statusCallbackEvents":["call.connected","call.exploded"]}""", "statusCallbackEvents", "unknown types (call.exploded)")]
    [InlineData("""{"statusCallback":"http://127.0.0.1/hook","statusCallbackEvents":[]}""", "statusCallbackEvents", "at least one")]
    [InlineData("""{"statusCallbackEvents":["call.ended"]}""", "statusCallbackEvents", "needs a statusCallback")]
    public async Task AnInvalidCallbackIsAValidationProblemKeyedByItsMember(string members, string member, string message)
    {
        await CallbackSecretAsync();
        var body = JsonNode.Parse(CreateBody(null))!.AsObject();
        foreach (var (name, value) in JsonNode.Parse(members)!.AsObject()) body[name] = value?.DeepClone();

        var response = await _gateway.Client().PostJsonAsync("/calls", body.ToJsonString());

        var problem = await response.AssertProblemAsync(400, "validation-failed");
        Assert.Contains(message, (string?)problem["errors"]![member]![0], StringComparison.Ordinal);
        Assert.Empty(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task TooLongAUrlAndTooManyEventsAreValidationProblems()
    {
        await CallbackSecretAsync();
        var tooMany = Enumerable.Repeat("call.ended", 64).ToArray();

        var longUrl = await _gateway.Client().PostJsonAsync("/calls", CreateBody("http://127.0.0.1/" + new string('a', 2100)));
        var manyEvents = await _gateway.Client().PostJsonAsync("/calls", CreateBody("http://127.0.0.1/hook", tooMany));

        Assert.Contains("at most 2048 characters", (string?)(await longUrl.AssertProblemAsync(400, "validation-failed"))["errors"]!["statusCallback"]![0],
            StringComparison.Ordinal);
        Assert.Contains("at most", (string?)(await manyEvents.AssertProblemAsync(400, "validation-failed"))["errors"]!["statusCallbackEvents"]![0],
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyWithoutACallbackSecretIsAskedToCreateOneAndNothingIsSent()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(_receiver.Url()));

        var problem = await response.AssertProblemAsync(409, "status-callback-secret-required");
        Assert.Contains("POST /webhooks/status-callback-secret", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Empty(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task TheSameIdempotencyKeyWithAnotherStatusCallbackIsAnotherRequest()
    {
        await CallbackSecretAsync();
        var first = await _gateway.Client().PostJsonAsync("/calls", CreateBody(_receiver.Url("/a")), idempotencyKey: "retry-1");
        var replay = await _gateway.Client().PostJsonAsync("/calls", CreateBody(_receiver.Url("/a")), idempotencyKey: "retry-1");
        var changed = await _gateway.Client().PostJsonAsync("/calls", CreateBody(_receiver.Url("/b")), idempotencyKey: "retry-1");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        await changed.AssertProblemAsync(422, "idempotency-key-reused");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task OnlyThePlacingKeyAndTheAdministratorSeeTheDeliveriesAndRedeliver()
    {
        var secret = await CallbackSecretAsync(GatewayFactory.DomainKey);
        await PlaceAsync(_receiver.Url(), key: GatewayFactory.DomainKey);
        await RunCallAsync();
        await _receiver.WaitForAsync(r => r.Count >= 7, "the call's seven events");

        var own = await EventuallyAsync(async () => (await (await DeliveriesAsync(GatewayFactory.DomainKey)).JsonAsync())["items"]!.AsArray(),
            l => l.Count == 7 && l.All(d => (string?)d!["state"] == "succeeded"), "seven succeeded deliveries");
        Assert.Equal(HttpStatusCode.OK, (await DeliveriesAsync(GatewayFactory.AdminKey)).StatusCode);
        // alice's key may see the call (alice is its caller) but did not place it.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client(GatewayFactory.AliceKey).GetAsync($"/calls/{CallId}", Ct)).StatusCode);
        await (await DeliveriesAsync(GatewayFactory.AliceKey)).AssertProblemAsync(404, "status-callback-not-found");
        var connected = own.Single(d => (string?)d!["eventType"] == "call.connected")!;
        var path = $"/calls/{CallId}/status-callback/deliveries/{(string)connected["id"]!}";
        await (await _gateway.Client(GatewayFactory.AliceKey).GetAsync(path, Ct)).AssertProblemAsync(404, "status-callback-not-found");
        await (await _gateway.Client(GatewayFactory.AliceKey).PostAsync(path + "/redeliver", null, Ct)).AssertProblemAsync(404, "status-callback-not-found");

        var redelivered = await _gateway.Client(GatewayFactory.DomainKey).PostAsync(path + "/redeliver", null, Ct);

        Assert.Equal(HttpStatusCode.Accepted, redelivered.StatusCode);
        var again = (await _receiver.WaitForAsync(r => r.Count >= 8, "the re-delivery"))[^1];
        Assert.Equal((string)connected["messageId"]!, again.Header("webhook-id"));
        Assert.Equal("call.connected", Types([again]).Single());
        Assert.Null(StandardWebhookVerifier.Verify(secret, again, DateTimeOffset.UtcNow));
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client(GatewayFactory.DomainKey).GetAsync(redelivered.Headers.Location, Ct)).StatusCode);
    }

    [Fact]
    public async Task ARotatedSecretSignsBesideThePreviousOneUntilItExpires()
    {
        var first = await CallbackSecretAsync();
        var second = await CallbackSecretAsync();
        Assert.NotEqual(first, second);
        await PlaceAsync(_receiver.Url());

        var request = (await _receiver.WaitForAsync(r => r.Count >= 1, "call.requested"))[0];

        Assert.Null(StandardWebhookVerifier.Verify(first, request, DateTimeOffset.UtcNow));
        Assert.Null(StandardWebhookVerifier.Verify(second, request, DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task TheCallbackOfACallPlacedBeforeARestartGetsTheEventsAfterIt()
    {
        var webhooks = new TempSqliteFile("callback-restart-webhooks");
        var calls = new TempSqliteFile("callback-restart-calls");
        _owned.AddRange([webhooks, calls]);
        var settings = new Dictionary<string, string?> { ["Gateway:Webhooks:DatabasePath"] = webhooks.Path, ["Gateway:Calls:DatabasePath"] = calls.Path };
        await _gateway.DisposeAsync();
        _gateway = NewGateway(settings);
        var secret = await CallbackSecretAsync();
        await PlaceAsync(_receiver.Url());
        // Recorded as delivered, else the restarted gateway rightly sends it again (at least once, same webhook-id).
        // 404 until the webhook writer has made the callback on the call's first event.
        await EventuallyAsync(async () => (await (await DeliveriesAsync(GatewayFactory.AdminKey)).JsonAsync())["items"] as JsonArray ?? [],
            l => l.Count == 1 && (string?)l[0]!["state"] == "succeeded", "call.requested delivered before the restart");

        await _gateway.DisposeAsync();
        _gateway = NewGateway(settings);
        await RunCallAsync();

        var requests = await _receiver.WaitForAsync(r => r.Count >= 7, "the rest of the call after the restart");
        Assert.Equal(CallEvents, Types(requests));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, DateTimeOffset.UtcNow)));
        var call = await (await _gateway.Client().GetAsync($"/calls/{CallId}", Ct)).JsonAsync();
        Assert.Equal(_receiver.Url(), (string?)call["statusCallback"]!["url"]);
    }
}
