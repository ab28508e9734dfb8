using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// Deliveries from the real gateway host, through its real SQLite file, to a real Kestrel receiver on loopback
/// (private targets allowed). Calls are driven through the registry as the PubSub subscription would drive it.
/// </summary>
public sealed class WebhookDeliveryTests : IAsyncLifetime
{
    private const string CallId = "ab12cd34";
    private const string OtherKey = "other-key-0123456789";
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
        var s = gateway.Settings;
        s["Gateway:Webhooks:RetrySchedule"] = "00:00:00.2, 00:00:00.2, 00:00:00.5, 00:00:01, 00:00:01, 00:00:01, 00:00:01";
        s["Gateway:Webhooks:RetryJitter"] = "0";
        s["Gateway:ApiKeys:3:Name"] = "other";
        s["Gateway:ApiKeys:3:Hash"] = GatewayFactory.Sha256(OtherKey);
        s["Gateway:ApiKeys:3:Scopes:0"] = "*@other.example";
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) s[key] = value;
        return gateway;
    }

    private async Task<(string Id, string Secret)> SubscribeAsync(string url, string extra = "", string key = GatewayFactory.AdminKey)
    {
        var response = await _gateway.Client(key).PostJsonAsync("/webhooks", $$"""{"url":"{{url}}"{{extra}}}""");
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /webhooks: {(int)response.StatusCode} {body}");
        var created = JsonNode.Parse(body)!;
        return ((string)created["id"]!, (string)created["secret"]!);
    }

    private Task PlaceAndEndCallAsync(string id = CallId) => WebhookTestEvents.PlaceAndEndCallAsync(_gateway.Calls, id);

    private async Task<JsonArray> DeliveriesAsync(string webhookId, string query = "", string key = GatewayFactory.AdminKey)
    {
        var response = await _gateway.Client(key).GetAsync($"/webhooks/{webhookId}/deliveries{query}", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync())["items"]!.AsArray();
    }

    private static IEnumerable<string> Types(IEnumerable<WebhookReceiver.Request> requests) =>
        requests.Select(r => (string)JsonNode.Parse(r.Body)!["type"]!);

    [Fact]
    public async Task AReceiverGetsEveryEventOfACallInOrderSignedAsTheSpecificationSays()
    {
        var (id, secret) = await SubscribeAsync(_receiver.Url());

        await PlaceAndEndCallAsync();

        var requests = await _receiver.WaitForAsync(r => r.Count >= 7, "the call's seven events");
        var now = DateTimeOffset.UtcNow;
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, now)));
        Assert.All(requests, r => Assert.StartsWith("application/json", r.Header("content-type"), StringComparison.Ordinal));
        Assert.Equal(7, requests.Select(r => r.Header("webhook-id")).Distinct().Count());
        Assert.Equal(CallEvents, Types(requests));
        // The envelope's data is the event exactly as the REST API shows it.
        var events = (await (await _gateway.Client().GetAsync($"/calls/{CallId}/events", Ct)).JsonAsync())["items"]!.AsArray();
        for (var i = 0; i < events.Count; i++)
        {
            var payload = JsonNode.Parse(requests[i].Body)!;
            Assert.True(JsonNode.DeepEquals(events[i], payload["data"]), $"event {i}: {events[i]} vs {payload["data"]}");
            Assert.Equal((string?)events[i]!["occurredAt"], (string?)payload["timestamp"]);
        }

        var log = await EventuallyAsync(() => DeliveriesAsync(id), l => l.All(d => (string?)d!["state"] == "succeeded") && l.Count == 7, "all succeeded");
        Assert.All(log, d => Assert.Equal(1, (int)d!["attempts"]!));
        Assert.All(log, d => Assert.Equal(204, (int?)d!["lastStatusCode"]));
        Assert.Equal(requests.Select(r => r.Header("webhook-id")).Reverse(), log.Select(d => (string)d!["messageId"]!));
    }

    [Fact]
    public async Task SubscriptionsGetOnlyTheirEventTypesTheirAddressAndCallsTheirKeyMaySee()
    {
        var (typesOnly, _) = await SubscribeAsync(_receiver.Url("/types"), ",\"eventTypes\":[\"call.connected\",\"call.ended\"]");
        var (carol, _) = await SubscribeAsync(_receiver.Url("/carol"), ",\"address\":\"carol@example.com\"");
        var (alice, _) = await SubscribeAsync(_receiver.Url("/alice"), key: GatewayFactory.AliceKey);
        var (other, _) = await SubscribeAsync(_receiver.Url("/other"), key: OtherKey);
        var (bob, _) = await SubscribeAsync(_receiver.Url("/bob"), ",\"address\":\"sip:bob@example.com\"", GatewayFactory.DomainKey);

        await PlaceAndEndCallAsync();

        await _receiver.WaitForAsync(r => r.Count(x => x.Path == "/alice") == 7 && r.Count(x => x.Path == "/bob") == 7 && r.Count(x => x.Path == "/types") == 2,
            "all seven events at /alice and /bob, two at /types");
        Assert.Equal(["call.connected", "call.ended"], Types(_receiver.Requests.Where(r => r.Path == "/types")));
        Assert.Equal(CallEvents, Types(_receiver.Requests.Where(r => r.Path == "/alice")));
        // An event is enqueued for every matching subscription in one go: those with an empty log were not matched.
        Assert.Empty(await DeliveriesAsync(carol));
        Assert.Empty(await DeliveriesAsync(other, key: OtherKey));
        Assert.DoesNotContain(_receiver.Requests, r => r.Path is "/carol" or "/other");
        Assert.Equal(2, (await DeliveriesAsync(typesOnly)).Count);
        Assert.Equal(7, (await DeliveriesAsync(alice, key: GatewayFactory.AliceKey)).Count);
        Assert.Equal(7, (await DeliveriesAsync(bob, key: GatewayFactory.DomainKey)).Count);
    }

    [Fact]
    public async Task AFailingEndpointIsRetriedWithTheSameWebhookIdUntilItAnswers2xx()
    {
        var (id, secret) = await SubscribeAsync(_receiver.Url());
        var calls = 0;
        _receiver.Respond = (_, _) => Task.FromResult(Interlocked.Increment(ref calls) <= 2 ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK);

        await PlaceAndEndCallAsync();

        var requests = await _receiver.WaitForAsync(r => r.Count >= 9, "two failures and seven deliveries");
        Assert.Equal(3, requests.Count(r => r.Header("webhook-id") == requests[0].Header("webhook-id")));
        Assert.Equal(CallEvents, Types(requests).Distinct());
        Assert.Equal(CallEvents, Types(requests.ToArray()[2..]));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, DateTimeOffset.UtcNow)));
        var log = await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 7 && l.All(d => (string?)d!["state"] == "succeeded"), "all succeeded");
        Assert.Equal(3, (int)log[^1]!["attempts"]!);
        Assert.Equal(200, (int?)log[^1]!["lastStatusCode"]);
    }

    [Fact]
    public async Task GoneDisablesTheSubscriptionAndRedeliveryToItIsRefused()
    {
        var (id, _) = await SubscribeAsync(_receiver.Url());
        _receiver.Respond = (_, _) => Task.FromResult(StatusCodes.Status410Gone);

        await PlaceAndEndCallAsync();

        var subscription = await EventuallyAsync(async () => await (await _gateway.Client().GetAsync($"/webhooks/{id}", Ct)).JsonAsync(),
            s => (string?)s["state"] == "disabled", "disabled");
        Assert.Equal("the endpoint answered 410 Gone", (string?)subscription["disabledReason"]);
        var log = await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 7 && l.All(d => (string?)d!["state"] == "failed"), "all failed");
        Assert.Single(_receiver.Requests);

        var redeliver = await _gateway.Client().PostJsonAsync($"/webhooks/{id}/deliveries/{(string)log[^1]!["id"]!}/redeliver", "");
        await redeliver.AssertProblemAsync(409, "webhook-disabled");
    }

    [Fact]
    public async Task AnUnansweredAttemptTimesOutAndRedeliveringThePendingDeliverySendsItNow()
    {
        _gateway.Settings["Gateway:Webhooks:AttemptTimeout"] = "00:00:01";
        _gateway.Settings["Gateway:Webhooks:RetrySchedule"] = "01:00:00";
        var (id, _) = await SubscribeAsync(_receiver.Url(), ",\"eventTypes\":[\"call.requested\"]");
        var first = true;
        _receiver.Respond = async (_, cancellationToken) =>
        {
            if (first)
            {
                first = false;
                await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            }
            return StatusCodes.Status204NoContent;
        };

        await PlaceAndEndCallAsync();

        var pending = (await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 1 && (int)l[0]!["attempts"]! == 1, "the first attempt recorded"))[0]!;
        Assert.Equal("pending", (string?)pending["state"]);
        Assert.Equal("no response within 1 s", (string?)pending["lastError"]);
        var next = DateTimeOffset.Parse((string)pending["nextAttemptAt"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(next > DateTimeOffset.UtcNow.AddMinutes(50), $"next attempt at {next:O}");

        var redeliver = await _gateway.Client().PostJsonAsync($"/webhooks/{id}/deliveries/{(string)pending["id"]!}/redeliver", "");

        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        Assert.Equal((string?)pending["id"], (string?)(await redeliver.JsonAsync())["id"]);
        var requests = await _receiver.WaitForAsync(r => r.Count == 2, "the attempt made now");
        Assert.Equal(requests[0].Header("webhook-id"), requests[1].Header("webhook-id"));
        await EventuallyAsync(() => DeliveriesAsync(id), l => (string?)l[0]!["state"] == "succeeded", "succeeded");
    }

    [Fact]
    public async Task RedeliveringAFinishedDeliveryQueuesACopyWithTheSameWebhookIdAndBody()
    {
        var (id, secret) = await SubscribeAsync(_receiver.Url(), ",\"eventTypes\":[\"call.connected\"]");
        await PlaceAndEndCallAsync();
        var original = (await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 1 && (string?)l[0]!["state"] == "succeeded", "delivered"))[0]!;

        var response = await _gateway.Client().PostJsonAsync($"/webhooks/{id}/deliveries/{(string)original["id"]!}/redeliver", "");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var copy = await response.JsonAsync();
        Assert.NotEqual((string?)original["id"], (string?)copy["id"]);
        Assert.Equal((string?)original["id"], (string?)copy["redeliveryOf"]);
        Assert.Equal((string?)original["messageId"], (string?)copy["messageId"]);
        Assert.Equal($"/webhooks/{id}/deliveries/{(string)copy["id"]!}", response.Headers.Location?.ToString());
        var requests = await _receiver.WaitForAsync(r => r.Count == 2, "the re-delivery");
        Assert.Equal(requests[0].Header("webhook-id"), requests[1].Header("webhook-id"));
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Null(StandardWebhookVerifier.Verify(secret, requests[1], DateTimeOffset.UtcNow));
        var log = await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 2 && (string?)l[0]!["state"] == "succeeded", "the copy delivered");
        Assert.Equal((string?)copy["id"], (string?)log[0]!["id"]);
    }

    [Fact]
    public async Task AfterASecretRotationDeliveriesVerifyWithTheOldAndTheNewSecret()
    {
        var (id, oldSecret) = await SubscribeAsync(_receiver.Url());
        var newSecret = (string)(await (await _gateway.Client().PostJsonAsync($"/webhooks/{id}/rotate-secret", "")).JsonAsync())["secret"]!;

        await PlaceAndEndCallAsync();

        var requests = await _receiver.WaitForAsync(r => r.Count == 7, "seven events");
        var now = DateTimeOffset.UtcNow;
        Assert.All(requests, r => Assert.Equal(2, r.Header("webhook-signature").Split(' ').Length));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(oldSecret, r, now)));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(newSecret, r, now)));
    }

    [Fact]
    public async Task TheDeliveryLogPagesNewestFirstAndFiltersByState()
    {
        var (id, _) = await SubscribeAsync(_receiver.Url());
        await PlaceAndEndCallAsync();
        await EventuallyAsync(() => DeliveriesAsync(id, "?state=succeeded"), l => l.Count == 7, "seven succeeded");

        var first = await (await _gateway.Client().GetAsync($"/webhooks/{id}/deliveries?limit=4", Ct)).JsonAsync();
        var second = await (await _gateway.Client().GetAsync($"/webhooks/{id}/deliveries?limit=4&cursor={(string)first["nextCursor"]!}", Ct)).JsonAsync();

        Assert.Equal(["ab12cd34.7", "ab12cd34.6", "ab12cd34.5", "ab12cd34.4"], first["items"]!.AsArray().Select(d => (string)d!["eventId"]!));
        Assert.Equal(["ab12cd34.3", "ab12cd34.2", "ab12cd34.1"], second["items"]!.AsArray().Select(d => (string)d!["eventId"]!));
        Assert.Null(second["nextCursor"]);
        Assert.Empty(await DeliveriesAsync(id, "?state=pending"));
        var one = await (await _gateway.Client().GetAsync($"/webhooks/{id}/deliveries/{(string)second["items"]![2]!["id"]!}", Ct)).JsonAsync();
        Assert.Equal("call.requested", (string?)one["eventType"]);
        Assert.Equal(CallId, (string?)one["callId"]);
    }

    [Fact]
    public async Task PendingDeliveriesSurviveAGatewayRestartAndArriveInOrderOnceTheReceiverIsBack()
    {
        var database = new TempSqliteFile("webhook-restart");
        _owned.Add(database);
        var settings = new Dictionary<string, string?> { ["Gateway:Webhooks:DatabasePath"] = database.Path };
        await _gateway.DisposeAsync();
        _gateway = NewGateway(settings);
        // A receiver that is down: its port is known, nothing listens on it.
        var port = _receiver.Port;
        await _receiver.DisposeAsync();
        _owned.Remove(_receiver);
        var (id, secret) = await SubscribeAsync($"http://127.0.0.1:{port}/hook");

        await PlaceAndEndCallAsync();
        var log = await EventuallyAsync(() => DeliveriesAsync(id), l => l.Count == 7 && (int)l[^1]!["attempts"]! >= 2, "the first delivery retried");
        Assert.All(log, d => Assert.Equal("pending", (string?)d!["state"]));
        Assert.Contains("refused", (string?)log[^1]!["lastError"], StringComparison.OrdinalIgnoreCase);

        await _gateway.DisposeAsync();
        _gateway = NewGateway(settings);
        _ = _gateway.Client();
        _receiver = await WebhookReceiver.StartAsync(port);
        _owned.Add(_receiver);

        var requests = await _receiver.WaitForAsync(r => r.Count == 7, "the seven queued events");
        Assert.Equal(CallEvents, Types(requests));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, DateTimeOffset.UtcNow)));
        await EventuallyAsync(() => DeliveriesAsync(id), l => l.All(d => (string?)d!["state"] == "succeeded"), "all succeeded");
    }

    [Fact]
    public async Task WhileTheStoreRefusesWritesEventsWaitInMemoryHealthSaysSoAndNoneIsLostOnceItRecovers()
    {
        var (_, secret) = await SubscribeAsync(_receiver.Url());
        var database = ((SqliteWebhookStore)_gateway.Services.GetRequiredService<IWebhookStore>()).Path;
        await ExecuteSqlAsync(database, "CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;");

        await PlaceAndEndCallAsync();

        var health = await EventuallyAsync(async () => await (await _gateway.Client(key: null).GetAsync("/health/ready", Ct)).JsonAsync(),
            h => (string?)h["checks"]!["webhooks"]!["status"] == "Degraded", "degraded");
        Assert.Contains("simulated write failure", (string?)health["checks"]!["webhooks"]!["description"], StringComparison.Ordinal);
        Assert.Empty(_receiver.Requests);

        await ExecuteSqlAsync(database, "DROP TRIGGER refuse;");

        var requests = await _receiver.WaitForAsync(r => r.Count == 7, "the seven events once the store took writes again");
        Assert.Equal(CallEvents, Types(requests));
        Assert.All(requests, r => Assert.Null(StandardWebhookVerifier.Verify(secret, r, DateTimeOffset.UtcNow)));
        await EventuallyAsync(async () => await (await _gateway.Client(key: null).GetAsync("/health/ready", Ct)).JsonAsync(),
            h => (string?)h["checks"]!["webhooks"]!["status"] == "Healthy", "healthy again");
    }

    private static async Task ExecuteSqlAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task AtDeliveryTimeTheGuardRefusesAPrivateTargetThatGotPastRegistration()
    {
        _gateway.Settings["Gateway:Webhooks:AllowPrivateTargets"] = "false";
        _ = _gateway.Client();
        // As if DNS had pointed the name at a public address when it was registered: the row is written directly.
        var store = _gateway.Services.GetRequiredService<IWebhookStore>();
        var subscription = await store.CreateSubscriptionAsync("admin", _receiver.Url(), ["call.requested"], null, null, WebhookSignature.NewKey(), Ct);

        await PlaceAndEndCallAsync();

        var log = await EventuallyAsync(() => DeliveriesAsync(subscription.Id), l => l.Count == 1 && (int)l[0]!["attempts"]! >= 1, "attempted");
        Assert.StartsWith("refused: 127.0.0.1 resolved to 127.0.0.1 (a loopback address)", (string?)log[0]!["lastError"], StringComparison.Ordinal);
        Assert.Empty(_receiver.Requests);
    }
}
