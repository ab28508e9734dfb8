extern alias service;

using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing;
using Gateway.Testing.Sip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using ServiceHosting = service::ActiveCalls.Service.Hosting.ActiveCallsServiceExtensions;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The whole system for one test, in-process: a real XMPP server (the shared Prosody or ejabberd fixture), the reference
/// Active-Calls service (its three components and SIP engine) calling real sipp phones, and the gateway with its real XMPP
/// pool. Call states come only from the gateway's own PubSub subscription: a team of two followed users of different
/// owners, authorize-plain with auth-for-all for alice@activecalls.test (owner "demo": alice, bob, carol) and
/// dave@sales.activecalls.test (owner "sales": dave, erin); frank@activecalls.test (owner "support") is not followed.
/// With <see cref="OnKestrel"/> the gateway listens on a loopback port a browser can open.
/// </summary>
internal sealed class EndToEndStack(IXmppServerFixture server) : IAsyncDisposable
{
    // Demo addresses of users.dev.json; the gateway follows alice's and dave's owners' calls.
    public const string Alice = "sip:alice@activecalls.test";
    public const string Bob = "sip:bob@activecalls.test";
    public const string Carol = "sip:carol@activecalls.test";
    public const string SalesDomain = "sales.activecalls.test";
    public const string Dave = "sip:dave@" + SalesDomain;
    public const string Erin = "sip:erin@" + SalesDomain;
    public const string Frank = "sip:frank@activecalls.test";
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<GatewayFactory> _replicas = [];
    private IHost? _service;
    private GatewayFactory? _gateway;
    private string _gatewayUser = "";

    /// <summary>Serve the gateway on real Kestrel (<see cref="GatewayAddress"/>) instead of the in-memory test server.</summary>
    public bool OnKestrel { get; init; }

    public IHost Service => _service ?? throw new InvalidOperationException("StartAsync first.");

    public GatewayFactory Gateway => _gateway ?? throw new InvalidOperationException("StartAsync first.");

    /// <summary>Where a browser reaches the gateway (only <see cref="OnKestrel"/>).</summary>
    public Uri GatewayAddress => Gateway.KestrelAddress ?? throw new InvalidOperationException("The gateway is not on Kestrel.");

    /// <summary>Settings a test adds to the reference service's (before <see cref="StartAsync"/>).</summary>
    public Dictionary<string, string?> ServiceSettings { get; } = [];

    /// <summary>Settings a test adds to the gateway's; they hold across <see cref="RestartGatewayAsync"/>.</summary>
    public Dictionary<string, string?> GatewaySettings { get; } = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_service is not null)
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
        }
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
    }

    public async Task<SippPhone> PhoneAsync(string scenario, string user) => Own(await SippPhone.StartAsync(scenario, user));

    /// <summary>Disposes <paramref name="owned"/> with the stack, after the gateway and the service have stopped.</summary>
    public T Own<T>(T owned) where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    /// <summary>Boots the reference service (phones bound to demo addresses), then the gateway, and waits until the gateway
    /// is ready: every pooled connection up and its call-events subscription active. Returns a client with the admin key.</summary>
    public async Task<HttpClient> StartAsync(params (string Address, SippPhone Phone)[] bindings)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = server.Domain,
            ["ActiveCalls:XmppHost"] = server.Host,
            ["ActiveCalls:ComponentPort"] = server.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = server.ComponentSecret,
            ["ActiveCalls:UsersFile"] = RepositoryRoot.Combine("src", "ActiveCalls.Service", "users.dev.json"),
            ["Sip:BindAddress"] = "127.0.0.1",
            ["Sip:Port"] = "0",
            ["Sip:LocalDomains:0"] = server.Domain,
            ["Sip:LocalDomains:1"] = SalesDomain,
            ["Sip:RingTimeout"] = "00:00:20",
            // The service's own state (calls' SIP state, items, subscriptions, grants), per stack.
            ["ActiveCalls:Storage:DatabasePath"] = Own(new TempSqliteFile("e2e-service")).Path,
        };
        foreach (var (address, phone) in bindings) settings[$"Sip:Contacts:{address}"] = $"127.0.0.1:{phone.Port}";
        foreach (var (key, value) in ServiceSettings) settings[key] = value;
        // Its own content root: the test output also holds the gateway's appsettings.json.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.AddInMemoryCollection(settings);
        ServiceHosting.AddActiveCallsService(builder);
        _service = builder.Build();
        await _service.StartAsync(Ct);

        // The calls database outlives gateway restarts, like a deployment's data volume.
        GatewaySettings.TryAdd("Gateway:Calls:DatabasePath", Own(new TempSqliteFile("e2e-calls")).Path);
        _gatewayUser = "gw" + Guid.NewGuid().ToString("N")[..8];
        await server.RegisterAsync(_gatewayUser, "gateway-password-1");
        return await StartGatewayAsync();
    }

    /// <summary>Stops the gateway and starts a new one (a new process: new port on Kestrel) with the same settings and the
    /// same calls database, as a deployment with a data volume does; it reconciles its calls with the PubSub items.</summary>
    public async Task<HttpClient> RestartGatewayAsync()
    {
        await Gateway.DisposeAsync();
        return await StartGatewayAsync();
    }

    /// <summary>Starts another replica of the gateway (with <see cref="GatewaySettings"/> naming a shared Redis store) under
    /// <paramref name="instance"/>, and waits until it is ready: standing by while the first one holds the subscription.</summary>
    public async Task<(GatewayFactory Replica, HttpClient Client)> StartReplicaAsync(string instance)
    {
        var replica = new GatewayFactory { RealXmpp = true };
        _replicas.Add(replica);
        var client = await StartGatewayAsync(replica, instance, holdsSubscription: false);
        return (replica, client);
    }

    /// <summary>Stops a replica started with <see cref="StartReplicaAsync"/> (it releases the lease if it holds it).</summary>
    public async Task StopReplicaAsync(GatewayFactory replica)
    {
        _replicas.Remove(replica);
        await replica.DisposeAsync();
    }

    private async Task<HttpClient> StartGatewayAsync()
    {
        _gateway = new GatewayFactory { RealXmpp = true };
        return await StartGatewayAsync(_gateway, "e2e", holdsSubscription: true);
    }

    private async Task<HttpClient> StartGatewayAsync(GatewayFactory gateway, string instance, bool holdsSubscription)
    {
        var s = gateway.Settings;
        s["Gateway:Xmpp:Jid"] = $"{_gatewayUser}@{server.Domain}";
        s["Gateway:Xmpp:Password"] = "gateway-password-1";
        s["Gateway:Xmpp:Host"] = server.Host;
        s["Gateway:Xmpp:Port"] = server.C2sPort.ToString(CultureInfo.InvariantCulture);
        s["Gateway:Xmpp:TrustedCertificatePath"] = server.CaCertificatePath;
        s["Gateway:Xmpp:PoolSize"] = "2";
        s["Gateway:Xmpp:InstanceName"] = instance;
        s["Gateway:Xmpp:IqTimeout"] = "00:00:05";
        s["Gateway:Components:Commands"] = server.ActiveCallsComponent;
        s["Gateway:Events:SipAddress"] = "alice@activecalls.test";
        s["Gateway:Events:Password"] = "alice-dev-password";
        s["Gateway:Events:Users:0:Address"] = "dave@" + SalesDomain;
        s["Gateway:Events:Users:0:Password"] = "dave-dev-password";
        s["Gateway:Events:AuthComponent"] = server.AuthComponent;
        s["Gateway:Events:PubSubService"] = server.PubSubComponent;
        s["Gateway:Events:RetryDelay"] = "00:00:00.200";
        s["Gateway:Events:MaxRetryDelay"] = "00:00:02";
        s["Gateway:Calls:IntentAnswerWait"] = "00:00:02"; // the production default (the in-memory tests wait longer)
        foreach (var (key, value) in GatewaySettings) s[key] = value;
        if (OnKestrel) gateway.StartOnKestrel();
        var client = gateway.Client();

        var waited = System.Diagnostics.Stopwatch.StartNew();
        JsonObject health;
        while ((string?)(health = await (await client.GetAsync("/health/ready", Ct)).JsonAsync())["status"] != "Healthy")
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "gateway not ready: " + health);
            await Task.Delay(200, Ct);
        }
        var events = (string?)health["checks"]!["call-events"]!["description"];
        if (holdsSubscription) Assert.StartsWith("subscribed to /me/" + _gatewayUser + "@", events, StringComparison.Ordinal);
        // The team as the holder reported it follows: the statuses are the holder's on every replica.
        else Assert.Contains("holds the subscription; this one stands by; followed users (as ", events, StringComparison.Ordinal);
        return client;
    }

    /// <summary>Places a call with <c>POST /calls</c> (asserting 202 and its Location) and returns its id.</summary>
    public static async Task<string> CreateCallAsync(HttpClient client, string from, string to)
    {
        var response = await client.PostJsonAsync("/calls", $$"""{"from":"{{from}}","to":"{{to}}"}""");
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /calls: {(int)response.StatusCode} {body}");
        var id = (string)JsonNode.Parse(body)!["id"]!;
        Assert.EndsWith("/calls/" + id, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        return id;
    }

    /// <summary>The call's events as <c>GET /calls/{id}/events</c> lists them: their types, or <c>{eventId} {type}</c>.</summary>
    public static async Task<List<string>> EventsAsync(HttpClient client, string id, bool withIds = false)
    {
        var body = await (await client.GetAsync($"/calls/{id}/events", Ct)).JsonAsync();
        var items = (body["items"] ?? body["events"])!.AsArray();
        return [.. items.Select(e => withIds ? $"{(string)e!["id"]!} {(string)e!["type"]!}" : (string)e!["type"]!)];
    }

    /// <summary>A <see cref="WaitForCallAsync"/> condition: the call is in <paramref name="state"/>.</summary>
    public static Func<JsonObject, bool> State(string state) => c => (string?)c["state"] == state;

    /// <summary>Polls <c>GET /calls/{id}</c> until <paramref name="until"/> holds (fails after <paramref name="seconds"/>).</summary>
    public static async Task<JsonObject> WaitForCallAsync(HttpClient client, string id, Func<JsonObject, bool> until, string what, int seconds = 30)
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
}
