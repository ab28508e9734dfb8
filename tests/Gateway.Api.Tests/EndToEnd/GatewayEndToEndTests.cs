extern alias service;

using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using ActiveCalls.Sip.CallControl;
using ActiveCalls.Sip.Tests.Infrastructure;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServiceHosting = service::ActiveCalls.Service.Hosting.ActiveCallsServiceExtensions;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The whole system in-process: a real Prosody, the reference Active-Calls service (its three components and SIP engine)
/// calling real sipp phones, and the gateway with its real XMPP pool. Call states come only from the gateway's own PubSub
/// subscription (authorize-plain for alice@activecalls.test with auth-for-all: alice, bob, carol).
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed partial class GatewayEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private const string Alice = "sip:alice@activecalls.test";
    private const string Bob = "sip:bob@activecalls.test";
    private const string Carol = "sip:carol@activecalls.test";
    private readonly List<IAsyncDisposable> _owned = [];
    /// <summary>Settings a test adds to the gateway's; they hold across <see cref="RestartGatewayAsync"/>.</summary>
    private readonly Dictionary<string, string?> _gatewaySettings = [];
    private IHost? _service;
    private GatewayFactory? _gateway;
    private string? _gatewayUser;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_service is not null)
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
        }
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
    }

    private static string RepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return Path.Combine([dir.FullName, .. parts]);
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }

    private async Task<SippPhone> PhoneAsync(string scenario, string user)
    {
        var phone = await SippPhone.StartAsync(scenario, user);
        _owned.Add(phone);
        return phone;
    }

    /// <summary>Boots the reference service (phones bound to demo addresses), then the gateway, and waits until the gateway
    /// is ready: every pooled connection up and its call-events subscription active.</summary>
    private async Task<HttpClient> StartAsync(params (string Address, SippPhone Phone)[] bindings)
    {
        await StartServiceAsync(bindings);
        return await StartGatewayAsync();
    }

    /// <summary>Stops the gateway host and starts a new one with the same account and settings; waits until it is ready.</summary>
    private async Task<HttpClient> RestartGatewayAsync()
    {
        await _gateway!.DisposeAsync();
        _gateway = null;
        return await StartGatewayAsync();
    }

    private async Task StartServiceAsync((string Address, SippPhone Phone)[] bindings)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = prosody.Domain,
            ["ActiveCalls:XmppHost"] = prosody.Host,
            ["ActiveCalls:ComponentPort"] = prosody.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = prosody.ComponentSecret,
            ["ActiveCalls:UsersFile"] = RepositoryFile("src", "ActiveCalls.Service", "users.dev.json"),
            ["Sip:BindAddress"] = "127.0.0.1",
            ["Sip:Port"] = "0",
            ["Sip:LocalDomains:0"] = prosody.Domain,
            ["Sip:RingTimeout"] = "00:00:20",
        };
        foreach (var (address, phone) in bindings) settings[$"Sip:Contacts:{address}"] = $"127.0.0.1:{phone.Port}";
        // Its own content root: the test output also holds the gateway's appsettings.json.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.AddInMemoryCollection(settings);
        ServiceHosting.AddActiveCallsService(builder);
        _service = builder.Build();
        await _service.StartAsync(Ct);
    }

    private async Task<HttpClient> StartGatewayAsync()
    {
        if (_gatewayUser is null)
        {
            _gatewayUser = "gw" + Guid.NewGuid().ToString("N")[..8];
            await prosody.RegisterAsync(_gatewayUser, "gateway-password-1");
        }
        var user = _gatewayUser;
        _gateway = new GatewayFactory { RealXmpp = true };
        var s = _gateway.Settings;
        s["Gateway:Xmpp:Jid"] = $"{user}@{prosody.Domain}";
        s["Gateway:Xmpp:Password"] = "gateway-password-1";
        s["Gateway:Xmpp:Host"] = prosody.Host;
        s["Gateway:Xmpp:Port"] = prosody.C2sPort.ToString(CultureInfo.InvariantCulture);
        s["Gateway:Xmpp:TrustedCertificatePath"] = prosody.CaCertificatePath;
        s["Gateway:Xmpp:PoolSize"] = "2";
        s["Gateway:Xmpp:InstanceName"] = "e2e";
        s["Gateway:Xmpp:IqTimeout"] = "00:00:05";
        s["Gateway:Components:Commands"] = prosody.ActiveCallsComponent;
        s["Gateway:Events:SipAddress"] = "alice@activecalls.test";
        s["Gateway:Events:Password"] = "alice-dev-password";
        s["Gateway:Events:AuthComponent"] = prosody.AuthComponent;
        s["Gateway:Events:PubSubService"] = prosody.PubSubComponent;
        s["Gateway:Events:RetryDelay"] = "00:00:00.200";
        s["Gateway:Events:MaxRetryDelay"] = "00:00:02";
        foreach (var (key, value) in _gatewaySettings) s[key] = value;
        var client = _gateway.Client();

        var waited = System.Diagnostics.Stopwatch.StartNew();
        JsonObject health;
        while ((string?)(health = await (await client.GetAsync("/health/ready", Ct)).JsonAsync())["status"] != "Healthy")
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "gateway not ready: " + health);
            await Task.Delay(200, Ct);
        }
        Assert.StartsWith("subscribed to /me/" + user + "@", (string?)health["checks"]!["call-events"]!["description"], StringComparison.Ordinal);
        return client;
    }

    private static async Task<JsonObject> WaitForCallAsync(HttpClient client, string id, Func<JsonObject, bool> until, string what, int seconds = 30)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var response = await client.GetAsync($"/calls/{id}", Ct);
            var call = response.StatusCode == HttpStatusCode.OK ? await response.JsonAsync() : null;
            if (call is not null && until(call)) return call;
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(seconds), $"call {id} never {what}: {call?.ToJsonString() ?? response.StatusCode.ToString()}");
            await Task.Delay(100, Ct);
        }
    }

    private static Func<JsonObject, bool> State(string state) => c => (string?)c["state"] == state;

    private static async Task<List<string>> EventTypesAsync(HttpClient client, string id)
    {
        var body = await (await client.GetAsync($"/calls/{id}/events", Ct)).JsonAsync();
        var items = (body["items"] ?? body["events"])!.AsArray();
        return [.. items.Select(e => (string)e!["type"]!)];
    }

    private static async Task<string> CreateAsync(HttpClient client, string from, string to)
    {
        var response = await client.PostJsonAsync("/calls", $$"""{"from":"{{from}}","to":"{{to}}"}""");
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /calls: {(int)response.StatusCode} {body}");
        var id = (string)JsonNode.Parse(body)!["id"]!;
        Assert.EndsWith("/calls/" + id, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        return id;
    }

    [Fact]
    public async Task ACallPlacedThroughTheGatewayConnectsShowsItsEventsInOrderAndDeleteHangsUpBothPhones()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));

        var id = await CreateAsync(client, Alice, Bob);

        var call = await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(id, (string?)call["callSetupId"]);
        var legs = call["legs"]!.AsArray();
        Assert.NotEmpty(legs);
        // The id is the call-setup-id the service's engine placed the call with: every leg it published carries it.
        Assert.All(legs, l => Assert.Equal(id, (string?)l!["callSetupId"]));
        Assert.Contains(legs, l => (string?)l!["role"] == "callee" && (string?)l!["dialogState"] == "confirmed" && (bool)l!["active"]!);
        Assert.Equal(1, _service!.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        Assert.Equal(["call.requested", "call.caller-ringing", "call.caller-answered", "call.callee-ringing", "call.connected"],
            await EventTypesAsync(client, id));

        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);

        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        call = await WaitForCallAsync(client, id, State("ended"), "ended");
        // The service retracts the legs before it answers the terminate; the hang-up was recorded before it was sent.
        Assert.Equal("terminated", (string?)call["endReason"]);
        var events = await EventTypesAsync(client, id);
        Assert.Equal("call.ended", events[^1]);
        Assert.Equal(events.Count, events.Distinct().Count());
    }

    [Fact]
    public async Task DeleteWhileTheCalleeRingsCancelsItsInvite()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("ring-forever", "bob");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));

        var id = await CreateAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("callee-ringing"), "callee-ringing");

        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);

        await bob.AssertSucceededAsync();
        Assert.Contains("> CANCEL", bob.Flow());
        await alice.AssertSucceededAsync();
        var call = await WaitForCallAsync(client, id, State("ended"), "ended");
        // The answered setup dialog is terminated (which ends the whole call at the reference service); the callee's
        // cancel then finds nothing left to cancel, which is the goal reached, not an error.
        Assert.Equal("terminated", (string?)call["endReason"]);
    }

    [Fact]
    public async Task TransferOfTheCalleeToCarolRingsCarolAndHangsUpTheOtherParty()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var carol = await PhoneAsync("answer", "carol");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob), ("carol@activecalls.test", carol));
        var id = await CreateAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");

        var transfer = await client.PostJsonAsync($"/calls/{id}/transfer", $$"""{"endpoint":"callee","target":"{{Carol}}"}""");
        Assert.True(transfer.StatusCode == HttpStatusCode.Accepted, $"transfer: {(int)transfer.StatusCode} {await transfer.Content.ReadAsStringAsync(Ct)}");

        // The engine keeps the chosen party (bob), invites carol, re-invites bob, and hangs up the other party (alice).
        await alice.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!carol.Flow().Contains("> INVITE"))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "carol never got an INVITE: " + string.Join(", ", carol.Flow()));
            await Task.Delay(100, Ct);
        }
        Assert.Contains("call.transfer-requested", await EventTypesAsync(client, id));
    }

    [Fact]
    public async Task AComponentErrorEndToEndIsA422WithTheComponentsText()
    {
        var client = await StartAsync();

        var response = await client.PostJsonAsync("/calls", """{"from":"sip:nobody@unknown.invalid","to":"sip:bob@activecalls.test"}""");

        var problem = await response.AssertProblemAsync(422, "command-failed");
        Assert.StartsWith("Execution Errors; ", (string?)problem["detail"], StringComparison.Ordinal);
    }
}
