using System.Net;
using Gateway.Api.Auth;
using Gateway.Api.Configuration;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>
/// What an API key may call (toll fraud): the <c>to</c> of a new call, the <c>target</c> of a transfer and a caller that is
/// a phone number are checked against the key's <c>Destinations</c> before any XMPP traffic; outside them is
/// <c>403 destination-not-allowed</c>.
/// </summary>
public sealed class DestinationScopeTests : IAsyncLifetime
{
    /// <summary>Acts for alice@example.com; may call bob, partner.test's users, and numbers at example.com starting 1555 or +44.</summary>
    private const string DeskKey = "desk-key-0123456789";

    /// <summary>Acts for everyone, with no Destinations configured (a key from before destinations existed).</summary>
    private const string LegacyAdminKey = "legacy-admin-key-0123456789";

    private const string CallId = "ab12cd34";
    private readonly GatewayFactory _gateway = new();

    public DestinationScopeTests()
    {
        foreach (var (key, value) in GatewayFactory.KeySettings(3, "desk", DeskKey, ["alice@example.com"],
                     ["sip:bob@example.com", "*@partner.test", "1555*@example.com", "+44*@example.com"]))
            _gateway.Settings[key] = value;
        foreach (var (key, value) in GatewayFactory.KeySettings(4, "legacy-admin", LegacyAdminKey, ["*"], []))
            _gateway.Settings[key] = value;
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    private Task<HttpResponseMessage> CreateAsync(string key, string to, string from = "sip:alice@example.com") =>
        _gateway.Client(key).PostJsonAsync("/calls", CreateBody(from: from, to: to));

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string member, string destination)
    {
        var problem = await response.AssertProblemAsync(403, "destination-not-allowed");
        Assert.Equal(member, (string?)problem["member"]);
        Assert.Equal(destination, (string?)problem["destination"]);
        Assert.Equal($"The API key may not call '{destination}' ('{member}' is outside its destinations).", (string?)problem["detail"]);
    }

    [Theory]
    [InlineData("sip:bob@example.com", "sip:bob@example.com")]                       // the exact address
    [InlineData("sip:bob@EXAMPLE.com", "sip:bob@example.com")]                       // domains in any case
    [InlineData("sip:anyone@partner.test", "sip:anyone@partner.test")]               // a domain's named users
    [InlineData("15551234567@example.com", "sip:15551234567@example.com")]           // a number prefix, in OnSIP's PSTN shorthand
    [InlineData("sip:1-555-123-4567@example.com", "sip:1-555-123-4567@example.com")] // … written with separators
    [InlineData("sip:%31555%31234567@example.com", "sip:%31555%31234567@example.com")] // … or %-escaped
    [InlineData("sip:+447700900123@example.com", "sip:+447700900123@example.com")]   // a '+' prefix
    public async Task ADestinationItsPatternsNameIsCalled(string to, string sent)
    {
        var response = await CreateAsync(DeskKey, to);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(sent, Assert.Single(_gateway.Xmpp.Sent).Field("to"));
    }

    [Theory]
    [InlineData("sip:carol@example.com")]          // a named user the patterns do not name
    [InlineData("sip:Bob@example.com")]            // user parts are compared as written
    [InlineData("19005551234@example.com")]        // a number outside the prefixes
    [InlineData("sip:1-900-555-1234@example.com")] // … however it is written
    [InlineData("sip:%319005551234@example.com")]
    [InlineData("sip:*6715551234567@example.com")] // a feature code before an allowed prefix is not digits only
    [InlineData("sip:+15551234567@example.com")]   // '+' only matches a '+' in the pattern
    [InlineData("15551234567@partner.test")]       // a domain pattern takes no numbers; a prefix is for its own domain
    [InlineData("sip:bob@example.org")]
    public async Task ADestinationOutsideTheKeysPatternsIs403AndNothingIsSent(string to)
    {
        var response = await CreateAsync(DeskKey, to);

        await AssertRefusedAsync(response, "to", to.StartsWith("sip:", StringComparison.Ordinal) ? to : "sip:" + to);
        Assert.Empty(_gateway.Xmpp.Sent);
        Assert.Empty((await (await _gateway.Client().GetAsync("/calls", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task TransferToATargetOutsideTheKeysPatternsIs403AndSendsNoTransfer()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await _gateway.Client(DeskKey).PostJsonAsync("/calls", CreateBody(callSetupId: CallId))).StatusCode);
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg(CallId, "created"), "item-callee", Node, Ct);
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg(CallId, "confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);
        var desk = _gateway.Client(DeskKey);

        var refused = await desk.PostJsonAsync($"/calls/{CallId}/transfer", """{"endpoint":"callee","target":"19005551234@example.com"}""");
        await AssertRefusedAsync(refused, "target", "sip:19005551234@example.com");
        Assert.Single(_gateway.Xmpp.Sent);

        var allowed = await desk.PostJsonAsync($"/calls/{CallId}/transfer", """{"endpoint":"callee","target":"sip:carol@partner.test"}""");
        Assert.Equal(HttpStatusCode.Accepted, allowed.StatusCode);
        Assert.Equal(["create", "transfer"], _gateway.Xmpp.Sent.Select(iq => iq.Node));
    }

    [Fact]
    public async Task TheDestinationIsCheckedBeforeWhetherTheCallCanBeTransferred()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await _gateway.Client(DeskKey).PostJsonAsync("/calls", CreateBody(callSetupId: CallId))).StatusCode);

        var refused = await _gateway.Client(DeskKey).PostJsonAsync($"/calls/{CallId}/transfer", """{"endpoint":"caller","target":"sip:mallory@example.org"}""");

        await AssertRefusedAsync(refused, "target", "sip:mallory@example.org");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task AKeyWithoutDestinationsMayCallTheNamedUsersOfItsOwnDomainsOnly()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await CreateAsync(GatewayFactory.AliceKey, "sip:bob@example.com")).StatusCode);
        await AssertRefusedAsync(await CreateAsync(GatewayFactory.AliceKey, "sip:someone@elsewhere.net"), "to", "sip:someone@elsewhere.net");
        await AssertRefusedAsync(await CreateAsync(GatewayFactory.AliceKey, "15555554567@example.com"), "to", "sip:15555554567@example.com");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task AKeyActingForEveryoneWithoutDestinationsMayCallNamedUsersAnywhereButNoNumber()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await CreateAsync(LegacyAdminKey, "sip:carol@elsewhere.net")).StatusCode);
        await AssertRefusedAsync(await CreateAsync(LegacyAdminKey, "sip:19005551234@elsewhere.net"), "to", "sip:19005551234@elsewhere.net");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task StarAllowsEveryDestinationPhoneNumbersIncluded()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await CreateAsync(GatewayFactory.AdminKey, "19005551234@elsewhere.net")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateAsync(GatewayFactory.AdminKey, "sip:someone@elsewhere.net", from: "sip:19005550000@example.com")).StatusCode);
    }

    [Fact]
    public async Task ACallerThatIsAPhoneNumberIsRungFirstSoItMustBeAnAllowedDestinationToo()
    {
        // The domain key acts for every address of example.com, numbers included, but may call only its named users.
        var refused = await CreateAsync(GatewayFactory.DomainKey, "sip:bob@example.com", from: "sip:19005551234@example.com");

        await AssertRefusedAsync(refused, "from", "sip:19005551234@example.com");
        Assert.Empty(_gateway.Xmpp.Sent);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateAsync(GatewayFactory.DomainKey, "sip:bob@example.com", from: "sip:carol@example.com")).StatusCode);
    }

    [Fact]
    public async Task AKeyWithoutDestinationsIsNamedInAWarningAtStartWithWhatItMayCall()
    {
        var logger = new FakeLogger<ApiKeyDestinationsReport>();
        var keys = new ApiKeysOptions
        {
            ApiKeys =
            [
                new ApiKeyDefinition { Name = "crm", Scopes = ["alice@example.com"] },
                new ApiKeyDefinition { Name = "ops", Scopes = ["*"], Destinations = ["*"] },
            ],
        };

        await new ApiKeyDestinationsReport(Options.Create(keys), logger).StartAsync(Ct);

        var warning = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("API key 'crm' has no Gateway:ApiKeys:0:Destinations, so it may call only *@example.com, alice@example.com", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice@example.com", "*@example.com,alice@example.com")]
    [InlineData("sip:Alice@Example.com", "*@example.com,Alice@example.com")]
    [InlineData("*@Example.com", "*@example.com")]
    [InlineData("*", "*@*")]
    public void TheDefaultDestinationsAreTheNamedUsersOfTheKeysDomainsAndItsOwnAddresses(string scope, string expected)
    {
        Assert.Equal(expected.Split(','), DestinationScope.DefaultFor([scope]));
    }
}
