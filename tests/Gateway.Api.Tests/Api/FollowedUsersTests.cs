using System.Net;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>
/// A team in one gateway, through the whole host against a scripted OnSIP (<see cref="FakeOnSipPeer"/>): three followed
/// users of different owners, one of them with a web password the Auth component refuses. What <c>GET /followed-users</c>,
/// <c>/health/ready</c> and <c>POST /calls</c> make of it.
/// </summary>
public sealed class FollowedUsersTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();
    private readonly FakeOnSipPeer _peer = new(TimeProvider.System);

    public async ValueTask InitializeAsync()
    {
        FollowTheTeam(_gateway);
        _peer.Accounts["alice@example.com"] = ("alice-web-password", ["alice@example.com", "bob@example.com"]);
        _peer.Accounts["dave@sales.example.com"] = ("dave-web-password", ["dave@sales.example.com", "erin@sales.example.com"]);
        _peer.Accounts["frank@support.example.com"] = ("frank-new-password", ["frank@support.example.com"]);
        _gateway.Xmpp.Receiver = _peer.Connect(_gateway.Xmpp.LocalJid!.ToString());
        var manager = _gateway.Service<ActiveCallsSubscriptionManager>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!manager.Status.IsActive)
        {
            Assert.True(DateTime.UtcNow < deadline, "the PubSub subscription never became active: " + manager.Status);
            await Task.Delay(20, Ct);
        }
    }

    /// <summary>alice (owner of alice and bob), dave (another owner's: dave, erin) and frank, whose password is out of date.</summary>
    private static void FollowTheTeam(GatewayFactory gateway)
    {
        var s = gateway.Settings;
        s["Gateway:Events:SipAddress"] = "alice@example.com";
        s["Gateway:Events:Password"] = "alice-web-password";
        s["Gateway:Events:Users:0:Address"] = "sip:dave@sales.example.com";
        s["Gateway:Events:Users:0:Password"] = "dave-web-password";
        s["Gateway:Events:Users:1:Address"] = "frank@support.example.com";
        s["Gateway:Events:Users:1:Password"] = "frank-old-password";
        s["Gateway:Events:AuthComponent"] = FakeOnSipPeer.Auth;
        s["Gateway:Events:PubSubService"] = FakeOnSipPeer.PubSub;
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task AnAdminKeyListsEachFollowedUserWithWhatItCoversAndItsLastErrorButNeverAPassword()
    {
        var response = await _gateway.Client(GatewayFactory.AdminKey).GetAsync("/followed-users", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(Ct);
        var items = System.Text.Json.Nodes.JsonNode.Parse(body)!["items"]!.AsArray();
        Assert.Equal(["alice@example.com", "dave@sales.example.com", "frank@support.example.com"], items.Select(i => (string?)i!["address"]));
        Assert.All(items, i => Assert.Equal("configuration", (string?)i!["source"]));
        var dave = items[1]!;
        Assert.True((bool)dave["authorized"]!);
        Assert.NotNull((string?)dave["authorizedUntil"]);
        Assert.Equal(["dave@sales.example.com", "erin@sales.example.com"], dave["covers"]!.AsArray().Select(a => (string?)a));
        Assert.Null((string?)dave["lastError"]);
        var frank = items[2]!;
        Assert.False((bool)frank["authorized"]!);
        Assert.Null((string?)frank["authorizedUntil"]);
        Assert.Contains("Authentication failed", (string?)frank["lastError"], StringComparison.Ordinal);
        Assert.DoesNotContain("password\"", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("web-password", body, StringComparison.Ordinal);
        Assert.DoesNotContain("old-password", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadinessNamesEachFollowedUserAndIsDegradedWhileOneIsNotAuthorised()
    {
        var health = await (await _gateway.Client(key: null).GetAsync("/health/ready", Ct)).JsonAsync();

        var events = health["checks"]!["call-events"]!;
        Assert.Equal("Degraded", (string?)events["status"]);
        var description = (string?)events["description"];
        Assert.StartsWith("subscribed to /me/gateway@activecalls.test as gateway@activecalls.test/gw-test-0 until ", description, StringComparison.Ordinal);
        Assert.Contains("but 1 followed user(s) not authorised", description, StringComparison.Ordinal);
        Assert.Contains("dave@sales.example.com (authorised until ", description, StringComparison.Ordinal);
        Assert.Contains("covering dave@sales.example.com erin@sales.example.com)", description, StringComparison.Ordinal);
        Assert.Contains("frank@support.example.com (not authorised: bad-request: Execution Errors; base Authentication failed", description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sip:erin@sales.example.com")] // covered by dave's auth-for-all (another owner than alice's)
    [InlineData("sip:bob@example.com")] // covered by alice's
    [InlineData("sip:frank@support.example.com")] // followed, though not authorised just now
    public async Task ACallFromAnAddressAFollowedUserCoversIsPlaced(string from)
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: from, to: "sip:carol@example.com"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(from, Assert.Single(_gateway.Xmpp.Sent).Field("from"));
    }

    [Fact]
    public async Task ACallFromAnAddressNoFollowedUserCoversIsRefusedWith422AndNothingSent()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: "sip:carol@example.com", to: "sip:bob@example.com"));

        var problem = await response.AssertProblemAsync(422, "from-not-followed");
        Assert.Equal("sip:carol@example.com", (string?)problem["from"]);
        Assert.Contains("Gateway:Events:Users", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Empty(_gateway.Xmpp.Sent);
        Assert.Empty((await (await _gateway.Client().GetAsync("/calls", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task WithUnfollowedFromAllowedSuchACallIsPlacedAnyway()
    {
        await using var allowing = new GatewayFactory();
        FollowTheTeam(allowing);
        allowing.Settings["Gateway:Events:UnfollowedFrom"] = "Allow";

        var response = await allowing.Client().PostJsonAsync("/calls", CreateBody(from: "sip:carol@example.com", to: "sip:bob@example.com"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("sip:carol@example.com", Assert.Single(allowing.Xmpp.Sent).Field("from"));
    }
}
