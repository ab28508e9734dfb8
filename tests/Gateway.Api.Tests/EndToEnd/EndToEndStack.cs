extern alias service;

using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using ActiveCalls.Sip.Tests.Infrastructure;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServiceHosting = service::ActiveCalls.Service.Hosting.ActiveCallsServiceExtensions;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The whole system in-process for one test: a real Prosody (shared), the reference Active-Calls service (its three
/// components and SIP engine) calling real sipp phones, and the gateway with its real XMPP pool. Call states come only
/// from the gateway's own PubSub subscription (authorize-plain for alice@activecalls.test with auth-for-all: alice, bob,
/// carol).
/// </summary>
internal sealed class EndToEndStack(ProsodyFixture prosody) : IAsyncDisposable
{
    public const string Alice = "sip:alice@activecalls.test";
    public const string Bob = "sip:bob@activecalls.test";
    public const string Carol = "sip:carol@activecalls.test";
    private readonly List<IAsyncDisposable> _owned = [];

    public IHost? Service { get; private set; }

    public GatewayFactory? Gateway { get; private set; }

    /// <summary>The gateway's address when it runs on Kestrel (<see cref="StartAsync"/> with <c>kestrel: true</c>).</summary>
    public Uri? BaseAddress { get; private set; }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null) await Gateway.DisposeAsync();
        if (Service is not null)
        {
            await Service.StopAsync(CancellationToken.None);
            Service.Dispose();
        }
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
    }

    /// <summary>Disposed with the stack, in reverse order, after the gateway and the service.</summary>
    public T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public static string RepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return Path.Combine([dir.FullName, .. parts]);
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }

    public async Task<SippPhone> PhoneAsync(string scenario, string user) => Own(await SippPhone.StartAsync(scenario, user));

    /// <summary>Boots the reference service (phones bound to demo addresses), then the gateway (in memory, or on Kestrel on a
    /// free loopback port), and waits until the gateway is ready: every pooled connection up and its call-events
    /// subscription active.</summary>
    public async Task<HttpClient> StartAsync(bool kestrel, params (string Address, SippPhone Phone)[] bindings)
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
        Service = builder.Build();
        await Service.StartAsync(Ct);

        var user = "gw" + Guid.NewGuid().ToString("N")[..8];
        await prosody.RegisterAsync(user, "gateway-password-1");
        Gateway = new GatewayFactory { RealXmpp = true };
        var s = Gateway.Settings;
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
        if (kestrel)
        {
            Gateway.UseKestrel(0);
            Gateway.StartServer();
            var address = Gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        }
        var client = Gateway.Client();

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

    public static Func<JsonObject, bool> State(string state) => c => (string?)c["state"] == state;

    /// <summary>The call's events as <c>GET /calls/{id}/events</c> lists them: <c>{eventId} {type}</c>.</summary>
    public static async Task<List<string>> EventsAsync(HttpClient client, string id, bool withIds = false)
    {
        var body = await (await client.GetAsync($"/calls/{id}/events", Ct)).JsonAsync();
        var items = (body["items"] ?? body["events"])!.AsArray();
        return [.. items.Select(e => withIds ? $"{(string)e!["id"]!} {(string)e!["type"]!}" : (string)e!["type"]!)];
    }

    public static async Task<string> CreateAsync(HttpClient client, string from, string to)
    {
        var response = await client.PostJsonAsync("/calls", $$"""{"from":"{{from}}","to":"{{to}}"}""");
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /calls: {(int)response.StatusCode} {body}");
        var id = (string)JsonNode.Parse(body)!["id"]!;
        Assert.EndsWith("/calls/" + id, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        return id;
    }
}
