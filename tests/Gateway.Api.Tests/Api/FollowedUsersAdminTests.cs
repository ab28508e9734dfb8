using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>
/// <c>/followed-users</c> as an administrator uses it: adding, re-passwording and removing followed users without a
/// restart, against the whole host with a scripted OnSIP (<see cref="FakeOnSipPeer"/>). alice is configured; the others
/// are added here. Passwords go in and never come out, and the SQLite store keeps them encrypted.
/// </summary>
public sealed class FollowedUsersAdminTests : IAsyncLifetime
{
    private readonly TempSqliteFile _database = new("followed-users");
    private readonly FakeOnSipPeer _peer = new(TimeProvider.System);
    private GatewayFactory _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _peer.Accounts["alice@example.com"] = ("alice-web-password", ["alice@example.com", "bob@example.com"]);
        _peer.Accounts["grace@support.example.com"] = ("grace-web-password", ["grace@support.example.com", "heidi@support.example.com"]);
        _gateway = await StartGatewayAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _database.Dispose();
    }

    /// <summary>A gateway on this test's calls database, subscribed through the scripted peer.</summary>
    private async Task<GatewayFactory> StartGatewayAsync()
    {
        var gateway = new GatewayFactory();
        var s = gateway.Settings;
        s["Gateway:Calls:DatabasePath"] = _database.Path;
        s["Gateway:Events:SipAddress"] = "alice@example.com";
        s["Gateway:Events:Password"] = "alice-web-password";
        s["Gateway:Events:AuthComponent"] = FakeOnSipPeer.Auth;
        s["Gateway:Events:PubSubService"] = FakeOnSipPeer.PubSub;
        gateway.Xmpp.Receiver = _peer.Connect(gateway.Xmpp.LocalJid!.ToString());
        var manager = gateway.Service<ActiveCallsSubscriptionManager>();
        await EventuallyAsync(() => Task.FromResult(manager.Status.IsActive), active => active, "an active subscription");
        return gateway;
    }

    private HttpClient Admin => _gateway.Client(GatewayFactory.AdminKey);

    private Task<HttpResponseMessage> AddAsync(string address, string password) =>
        Admin.PostJsonAsync("/followed-users", $$"""{"address":"{{address}}","password":"{{password}}"}""");

    private Task<HttpResponseMessage> SetPasswordAsync(string address, string json, HttpClient? client = null) =>
        (client ?? Admin).PutAsync($"/followed-users/{address}/password", new StringContent(json, Encoding.UTF8, "application/json"), Ct);

    private async Task<JsonObject> UserAsync(string address)
    {
        var list = await (await Admin.GetAsync("/followed-users", Ct)).JsonAsync();
        return list["items"]!.AsArray().Single(i => (string?)i!["address"] == address)!.AsObject();
    }

    private Task<JsonObject> AuthorizedAsync(string address) =>
        EventuallyAsync(() => UserAsync(address), u => (bool)u["authorized"]!, address + " authorised");

    private int AuthorizationsOf(string address) =>
        _peer.Requests.Count(r => r.Payload.Name.LocalName == "command" && r.Payload.ToString().Contains(address, StringComparison.Ordinal));

    [Fact]
    public async Task AnAddedUserIsAuthorisedAtOnceAndItsOwnersAddressesMayPlaceCallsButItsPasswordIsNeverShown()
    {
        Assert.Equal(HttpStatusCode.UnprocessableEntity,
            (await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: "sip:heidi@support.example.com"))).StatusCode);

        var added = await AddAsync("sip:grace@support.example.com", "grace-web-password");

        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal("/followed-users/grace%40support.example.com", added.Headers.Location?.OriginalString);
        var body = await added.Content.ReadAsStringAsync(Ct);
        Assert.Equal("api", (string?)JsonNode.Parse(body)!["source"]);
        var grace = await AuthorizedAsync("grace@support.example.com");
        Assert.Equal(["grace@support.example.com", "heidi@support.example.com"], grace["covers"]!.AsArray().Select(a => (string?)a));
        Assert.Equal(1, AuthorizationsOf("grace@support.example.com"));
        Assert.Single(_peer.Subscriptions); // the same subscription now brings grace's owner's calls too
        Assert.Equal(HttpStatusCode.Accepted,
            (await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: "sip:heidi@support.example.com"))).StatusCode);

        var list = await (await Admin.GetAsync("/followed-users", Ct)).Content.ReadAsStringAsync(Ct);
        Assert.Equal(["alice@example.com", "grace@support.example.com"],
            JsonNode.Parse(list)!["items"]!.AsArray().Select(i => (string?)i!["address"]));
        foreach (var text in new[] { body, list })
        {
            Assert.DoesNotContain("grace-web-password", text, StringComparison.Ordinal);
            Assert.DoesNotContain("alice-web-password", text, StringComparison.Ordinal);
            Assert.DoesNotContain("\"password\"", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AWrongPasswordShowsAsTheUsersLastErrorUntilANewOneIsSetWhichAuthorisesItAgain()
    {
        Assert.Equal(HttpStatusCode.Created, (await AddAsync("grace@support.example.com", "an-old-password")).StatusCode);
        var refused = await EventuallyAsync(() => UserAsync("grace@support.example.com"), u => u["lastError"] is not null, "grace refused");
        Assert.False((bool)refused["authorized"]!);
        Assert.Contains("Authentication failed", (string?)refused["lastError"], StringComparison.Ordinal);

        var changed = await SetPasswordAsync("grace@support.example.com", """{"password":"grace-web-password"}""");

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.DoesNotContain("grace-web-password", await changed.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await AuthorizedAsync("grace@support.example.com");
        Assert.Null((string?)(await UserAsync("grace@support.example.com"))["lastError"]);
    }

    [Fact]
    public async Task ARemovedUsersAddressesAreRefusedAgainAtOnce()
    {
        await AddAsync("grace@support.example.com", "grace-web-password");
        await AuthorizedAsync("grace@support.example.com");

        var removed = await Admin.DeleteAsync("/followed-users/grace@support.example.com", Ct);

        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.DoesNotContain("grace@support.example.com",
            await (await Admin.GetAsync("/followed-users", Ct)).Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await (await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: "sip:heidi@support.example.com"))).AssertProblemAsync(422, "from-not-followed");
        await (await Admin.DeleteAsync("/followed-users/grace@support.example.com", Ct)).AssertProblemAsync(404, "followed-user-not-found");
    }

    [Fact]
    public async Task TheConfiguredUserCannotBeAddedAgainChangedOrRemovedThroughTheApi()
    {
        var again = await AddAsync("alice@example.com", "alice-web-password");
        var changed = await SetPasswordAsync("alice@example.com", """{"password":"x"}""");
        var removed = await Admin.DeleteAsync("/followed-users/alice@example.com", Ct);

        Assert.Equal("alice@example.com", (string?)(await again.AssertProblemAsync(409, "followed-user-exists"))["address"]);
        await changed.AssertProblemAsync(409, "followed-user-configured");
        await removed.AssertProblemAsync(409, "followed-user-configured");
        Assert.True((bool)(await UserAsync("alice@example.com"))["authorized"]!);
    }

    [Theory]
    [InlineData("""{"password":"pw"}""", "address")]
    [InlineData("""{"address":"not-an-address","password":"pw"}""", "address")]
    [InlineData("""{"address":"tel:+15555550100","password":"pw"}""", "address")]
    [InlineData("""{"address":"grace@support.example.com"}""", "password")]
    [InlineData("""{"address":"grace@support.example.com","password":""}""", "password")]
    [InlineData("""{"address":"grace@support.example.com","password":"pw","owner":"x"}""", "owner")]
    public async Task AnInvalidAddIsA400NamingTheFieldAndNothingIsFollowed(string json, string field)
    {
        var response = await Admin.PostJsonAsync("/followed-users", json);

        var problem = await response.AssertProblemAsync(400, "validation-failed");
        Assert.NotNull(problem["errors"]![field]);
        Assert.Single((await (await Admin.GetAsync("/followed-users", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Theory]
    [InlineData(GatewayFactory.AliceKey)]
    [InlineData(GatewayFactory.DomainKey)]
    public async Task OnlyAKeyWithScopeStarMayReadOrChangeTheFollowedUsers(string key)
    {
        var client = _gateway.Client(key);

        await (await client.GetAsync("/followed-users", Ct)).AssertProblemAsync(403, "admin-scope-required");
        await (await client.PostJsonAsync("/followed-users", """{"address":"grace@support.example.com","password":"grace-web-password"}"""))
            .AssertProblemAsync(403, "admin-scope-required");
        await (await SetPasswordAsync("alice@example.com", """{"password":"x"}""", client)).AssertProblemAsync(403, "admin-scope-required");
        await (await client.DeleteAsync("/followed-users/alice@example.com", Ct)).AssertProblemAsync(403, "admin-scope-required");
        Assert.Single((await (await Admin.GetAsync("/followed-users", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task AddedUsersOutliveARestartAndTheirPasswordsAreStoredOnlyEncrypted()
    {
        await AddAsync("grace@support.example.com", "grace-web-password");
        await AuthorizedAsync("grace@support.example.com");
        await _gateway.DisposeAsync();

        await using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=false"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT address, password FROM followed_users;";
            await using var row = await command.ExecuteReaderAsync(Ct);
            Assert.True(await row.ReadAsync(Ct));
            Assert.Equal("grace@support.example.com", row.GetString(0));
            Assert.DoesNotContain("grace-web-password", row.GetString(1), StringComparison.Ordinal);
            Assert.False(await row.ReadAsync(Ct));
        }
        foreach (var file in new[] { _database.Path, _database.Path + "-wal" }.Where(File.Exists))
            Assert.DoesNotContain("grace-web-password", Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file, Ct)), StringComparison.Ordinal);

        _gateway = await StartGatewayAsync();

        var grace = await AuthorizedAsync("grace@support.example.com");
        Assert.Equal("api", (string?)grace["source"]);
    }
}
