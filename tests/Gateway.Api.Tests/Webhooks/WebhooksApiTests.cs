using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>The <c>/webhooks</c> REST API: creation, validation, ownership by API key, scope of the address filter,
/// limits, secret rotation and the delivery log's queries.</summary>
public sealed class WebhooksApiTests : IAsyncLifetime
{
    private const string Hook = "http://127.0.0.1:9/hook";
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<JsonObject> CreateAsync(string key = GatewayFactory.AdminKey, string body = $$"""{"url":"{{Hook}}"}""")
    {
        var response = await _gateway.Client(key).PostJsonAsync("/webhooks", body);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /webhooks: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<JsonObject> AssertFieldErrorAsync(HttpResponseMessage response, string field)
    {
        var problem = await response.AssertProblemAsync(400, "validation-failed");
        Assert.True(problem["errors"]?[field] is JsonArray { Count: > 0 }, $"no error for '{field}': {problem}");
        return problem;
    }

    [Fact]
    public async Task CreatingAnswers201WithLocationTheFiltersAndAWhsecSecretThatIsNeverShownAgain()
    {
        var created = await CreateAsync(body: $$"""
            {"url":"{{Hook}}","eventTypes":["call.connected","call.ended","call.connected"],"address":"sip:alice@Example.com","description":"CRM"}
            """);

        var id = (string)created["id"]!;
        Assert.StartsWith("wh_", id, StringComparison.Ordinal);
        Assert.Equal(Hook, (string?)created["url"]);
        Assert.Equal(["call.connected", "call.ended"], created["eventTypes"]!.AsArray().Select(t => (string)t!));
        Assert.Equal("alice@example.com", (string?)created["address"]);
        Assert.Equal("CRM", (string?)created["description"]);
        Assert.Equal("enabled", (string?)created["state"]);
        var secret = (string)created["secret"]!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret[6..]).Length);

        var client = _gateway.Client();
        var fetched = await (await client.GetAsync($"/webhooks/{id}", Ct)).JsonAsync();
        Assert.Null(fetched["secret"]);
        Assert.Equal(id, (string?)fetched["id"]);
        var list = await (await client.GetAsync("/webhooks", Ct)).JsonAsync();
        var item = Assert.Single(list["items"]!.AsArray());
        Assert.Null(item!["secret"]);
        Assert.DoesNotContain(secret[6..], list.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheLocationHeaderNamesTheNewSubscription()
    {
        var response = await _gateway.Client().PostJsonAsync("/webhooks", $$"""{"url":"{{Hook}}"}""");
        var id = (string)(await response.JsonAsync())["id"]!;

        Assert.Equal($"/webhooks/{id}", response.Headers.Location?.ToString());
    }

    [Theory]
    [InlineData("""{}""", "url")]
    [InlineData("""{"url":"not a url"}""", "url")]
    [InlineData("""{"url":"ftp://127.0.0.1/hook"}""", "url")]
    [InlineData("""{"url":"http://127.0.0.1:9/hook","eventTypes":[]}""", "eventTypes")]
    [InlineData("""{"url":"http://127.0.0.1:9/hook","eventTypes":["call.answered"]}""", "eventTypes")]
    [InlineData("""{"url":"http://127.0.0.1:9/hook","eventTypes":[null]}""", "eventTypes")]
    [InlineData("""{"url":"http://127.0.0.1:9/hook","address":"not an address"}""", "address")]
    [InlineData("""{"url":"http://127.0.0.1:9/hook","secret":"mine"}""", "secret")]
    [InlineData("""{"url":42}""", "url")]
    public async Task CreatingRejectsEachInvalidFieldAsProblemJson(string body, string field)
    {
        await AssertFieldErrorAsync(await _gateway.Client().PostJsonAsync("/webhooks", body), field);

        Assert.Empty((await (await _gateway.Client().GetAsync("/webhooks", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task CreatingRejectsATooLongDescriptionAndNamesTheKnownEventTypes()
    {
        var problem = await AssertFieldErrorAsync(await _gateway.Client().PostJsonAsync("/webhooks",
            $$"""{"url":"{{Hook}}","eventTypes":["call.answered"],"description":"{{new string('d', 257)}}"}"""), "description");

        Assert.Equal("must be at most 256 characters.", (string?)problem["errors"]!["description"]![0]);
        Assert.Equal("has unknown types (call.answered); known: call.requested, call.caller-ringing, call.caller-answered, call.callee-ringing, " +
                     "call.connected, call.ended, call.hangup-requested, call.hangup-failed, call.transfer-requested, call.transfer-failed, call.updated.", (string?)problem["errors"]!["eventTypes"]![0]);
    }

    [Fact]
    public async Task WithTheDefaultsPlainHttpAndPrivateTargetsAreRefused()
    {
        _gateway.Settings["Gateway:Webhooks:AllowPrivateTargets"] = "false";
        _gateway.Settings["Gateway:Webhooks:RequireHttps"] = "true";
        var client = _gateway.Client();

        var http = await AssertFieldErrorAsync(await client.PostJsonAsync("/webhooks", """{"url":"http://8.8.8.8/hook"}"""), "url");
        var loopback = await AssertFieldErrorAsync(await client.PostJsonAsync("/webhooks", """{"url":"https://127.0.0.1/hook"}"""), "url");
        var metadata = await AssertFieldErrorAsync(await client.PostJsonAsync("/webhooks", """{"url":"https://169.254.169.254/latest"}"""), "url");

        Assert.Equal("must use https (Gateway:Webhooks:RequireHttps is on).", (string?)http["errors"]!["url"]![0]);
        Assert.StartsWith("points at 127.0.0.1, a loopback address", (string?)loopback["errors"]!["url"]![0], StringComparison.Ordinal);
        Assert.StartsWith("points at 169.254.169.254, a link-local address", (string?)metadata["errors"]!["url"]![0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeySeesAndManagesOnlyTheSubscriptionsItCreated()
    {
        var id = (string)(await CreateAsync(GatewayFactory.AliceKey))["id"]!;
        var other = _gateway.Client(GatewayFactory.DomainKey);

        Assert.Empty((await (await other.GetAsync("/webhooks", Ct)).JsonAsync())["items"]!.AsArray());
        await (await other.GetAsync($"/webhooks/{id}", Ct)).AssertProblemAsync(404, "webhook-not-found");
        await (await other.GetAsync($"/webhooks/{id}/deliveries", Ct)).AssertProblemAsync(404, "webhook-not-found");
        await (await other.PostJsonAsync($"/webhooks/{id}/rotate-secret", "")).AssertProblemAsync(404, "webhook-not-found");
        await (await other.PostJsonAsync($"/webhooks/{id}/deliveries/dlv_x/redeliver", "")).AssertProblemAsync(404, "webhook-not-found");
        await (await other.DeleteAsync($"/webhooks/{id}", Ct)).AssertProblemAsync(404, "webhook-not-found");
        await (await _gateway.Client(GatewayFactory.AdminKey).DeleteAsync($"/webhooks/{id}", Ct)).AssertProblemAsync(404, "webhook-not-found");

        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client(GatewayFactory.AliceKey).GetAsync($"/webhooks/{id}", Ct)).StatusCode);
    }

    [Theory]
    [InlineData(GatewayFactory.AliceKey, "alice@example.com", 201)]
    [InlineData(GatewayFactory.AliceKey, "sip:bob@example.com", 403)]
    [InlineData(GatewayFactory.DomainKey, "carol@example.com", 201)]
    [InlineData(GatewayFactory.DomainKey, "carol@example.org", 403)]
    [InlineData(GatewayFactory.AdminKey, "anyone@anywhere.net", 201)]
    public async Task TheAddressFilterMustBeWithinTheKeysScope(string key, string address, int status)
    {
        var response = await _gateway.Client(key).PostJsonAsync("/webhooks", $$"""{"url":"{{Hook}}","address":"{{address}}"}""");

        if (status == 403) await response.AssertProblemAsync(403, "out-of-scope");
        else Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task AKeyMayHoldOnlyTheConfiguredNumberOfSubscriptions()
    {
        _gateway.Settings["Gateway:Webhooks:MaxSubscriptionsPerKey"] = "2";
        await CreateAsync(GatewayFactory.AliceKey);
        await CreateAsync(GatewayFactory.AliceKey);

        await (await _gateway.Client(GatewayFactory.AliceKey).PostJsonAsync("/webhooks", $$"""{"url":"{{Hook}}"}""")).AssertProblemAsync(409, "webhook-limit-reached");
        await CreateAsync(GatewayFactory.DomainKey);
    }

    [Fact]
    public async Task DeletingAnswers204AndTheSubscriptionIsGone()
    {
        var id = (string)(await CreateAsync())["id"]!;
        var client = _gateway.Client();

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/webhooks/{id}", Ct)).StatusCode);

        await (await client.GetAsync($"/webhooks/{id}", Ct)).AssertProblemAsync(404, "webhook-not-found");
        await (await client.DeleteAsync($"/webhooks/{id}", Ct)).AssertProblemAsync(404, "webhook-not-found");
    }

    [Fact]
    public async Task RotatingTheSecretReturnsANewOneAndWhenThePreviousOneStopsSigning()
    {
        var created = await CreateAsync();
        var id = (string)created["id"]!;

        var response = await _gateway.Client().PostJsonAsync($"/webhooks/{id}/rotate-secret", "");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rotated = await response.JsonAsync();
        Assert.StartsWith("whsec_", (string?)rotated["secret"], StringComparison.Ordinal);
        Assert.NotEqual((string?)created["secret"], (string?)rotated["secret"]);
        var expires = DateTimeOffset.Parse((string)rotated["previousSecretExpiresAt"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(24));
        Assert.NotNull((await (await _gateway.Client().GetAsync($"/webhooks/{id}", Ct)).JsonAsync())["previousSecretExpiresAt"]);
    }

    [Theory]
    [InlineData("state=done", "state")]
    [InlineData("cursor=bm90LWEtY3Vyc29y", "cursor")]
    [InlineData("cursor=Y2FsbHM6MTI", "cursor")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    public async Task TheDeliveryLogRejectsInvalidQueries(string query, string field)
    {
        var id = (string)(await CreateAsync())["id"]!;

        await AssertFieldErrorAsync(await _gateway.Client().GetAsync($"/webhooks/{id}/deliveries?{query}", Ct), field);
    }

    [Fact]
    public async Task UnknownDeliveriesAre404()
    {
        var id = (string)(await CreateAsync())["id"]!;
        var client = _gateway.Client();

        Assert.Empty((await (await client.GetAsync($"/webhooks/{id}/deliveries", Ct)).JsonAsync())["items"]!.AsArray());
        await (await client.GetAsync($"/webhooks/{id}/deliveries/dlv_nope", Ct)).AssertProblemAsync(404, "delivery-not-found");
        await (await client.PostJsonAsync($"/webhooks/{id}/deliveries/dlv_nope/redeliver", "")).AssertProblemAsync(404, "delivery-not-found");
        await (await client.GetAsync("/webhooks/wh_nope/deliveries", Ct)).AssertProblemAsync(404, "webhook-not-found");
    }

    [Fact]
    public async Task EveryEndpointNeedsAnApiKey()
    {
        var client = _gateway.Client(key: null);

        await (await client.GetAsync("/webhooks", Ct)).AssertProblemAsync(401, "unauthorized");
        await (await client.PostJsonAsync("/webhooks", $$"""{"url":"{{Hook}}"}""")).AssertProblemAsync(401, "unauthorized");
    }
}
