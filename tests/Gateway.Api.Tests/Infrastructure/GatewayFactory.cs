using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Gateway.Api.Calls;
using Gateway.Api.Xmpp;
using Gateway.Testing.OpenApi;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// The real gateway host in memory, with the XMPP pool replaced by <see cref="Xmpp"/> (unless <see cref="RealXmpp"/>).
/// Three API keys: <see cref="AliceKey"/> (scope alice@example.com), <see cref="DomainKey"/> (*@example.com) and
/// <see cref="AdminKey"/> (*, and destinations *; the other two have the default destinations: the named users of
/// example.com). Tweak <see cref="Settings"/> before the first request.
/// </summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    public const string AliceKey = "alice-key-0123456789";
    public const string DomainKey = "domain-key-0123456789";
    public const string AdminKey = "admin-key-0123456789";

    public FakeXmppPool Xmpp { get; } = new();

    /// <summary>Boot with the real pool (configure Gateway:Xmpp:* for a real server).</summary>
    public bool RealXmpp { get; init; }

    /// <summary>The host environment: "Testing" unless a test is about what differs in another one.</summary>
    public string EnvironmentName { get; init; } = "Testing";

    public Dictionary<string, string?> Settings { get; } = new()
    {
        ["Gateway:Xmpp:Jid"] = "gateway@activecalls.test",
        ["Gateway:Xmpp:Password"] = "not-used-by-the-fake",
        ["Gateway:Xmpp:Host"] = "127.0.0.1",
        ["Gateway:Xmpp:IqTimeout"] = "00:00:02",
        ["Gateway:Http:RequestTimeout"] = "00:00:10",
        ["Gateway:Components:Commands"] = FakeXmppPool.Component,
        ["Gateway:ApiKeys:0:Name"] = "alice",
        ["Gateway:ApiKeys:0:Hash"] = Sha256(AliceKey),
        ["Gateway:ApiKeys:0:Scopes:0"] = "alice@example.com",
        ["Gateway:ApiKeys:1:Name"] = "domain",
        ["Gateway:ApiKeys:1:Hash"] = Sha256(DomainKey),
        ["Gateway:ApiKeys:1:Scopes:0"] = "*@example.com",
        ["Gateway:ApiKeys:2:Name"] = "admin",
        ["Gateway:ApiKeys:2:Hash"] = Sha256(AdminKey),
        ["Gateway:ApiKeys:2:Scopes:0"] = "*",
        ["Gateway:ApiKeys:2:Destinations:0"] = "*",
        ["Gateway:Webhooks:AllowPrivateTargets"] = "true",
        ["Gateway:Webhooks:RequireHttps"] = "false",
        // DELETE and transfer answer after their first attempt; the scripted fake answers at once, so a test asserting
        // the command sent must not see the 202 of a busy machine's answer-wait instead.
        ["Gateway:Calls:IntentAnswerWait"] = "00:00:30",
    };

    /// <summary>Fresh SQLite files per factory (the webhook queue; the calls, their events, idempotency keys and intents),
    /// deleted with it unless a test pointed the settings elsewhere (to outlive a restart).</summary>
    private readonly TempSqliteFile _webhookDatabase = new("gateway-webhooks");
    private readonly TempSqliteFile _callsDatabase = new("gateway-calls");

    public GatewayFactory()
    {
        Settings["Gateway:Webhooks:DatabasePath"] = _webhookDatabase.Path;
        Settings["Gateway:Calls:DatabasePath"] = _callsDatabase.Path;
    }

    public CallTracker Calls => Services.GetRequiredService<CallTracker>();

    /// <summary>The loopback address Kestrel listens on after <see cref="StartOnKestrel"/>; null on the test server.</summary>
    public Uri? KestrelAddress { get; private set; }

    /// <summary>Starts the gateway on real Kestrel on a free loopback port, for clients outside the process (a browser).
    /// <see cref="Client"/> then talks to it over TCP.</summary>
    /// <param name="otherPorts">Loopback ports it listens on as well (e.g. a metrics port); <see cref="KestrelAddress"/> is
    /// the free port.</param>
    public void StartOnKestrel(params int[] otherPorts)
    {
        UseKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0);
            foreach (var port in otherPorts) options.Listen(IPAddress.Loopback, port);
        });
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        KestrelAddress = addresses.Select(a => new Uri(a)).Single(a => !otherPorts.Contains(a.Port));
        ClientOptions.BaseAddress = KestrelAddress;
    }

    public static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The settings of one more API key at <paramref name="index"/> (0-2 are the keys above), for
    /// <see cref="Settings"/> or <c>EndToEndStack.GatewaySettings</c>.</summary>
    public static Dictionary<string, string?> KeySettings(int index, string name, string key, string[] scopes, string[] destinations)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Gateway:ApiKeys:{index}:Name"] = name,
            [$"Gateway:ApiKeys:{index}:Hash"] = Sha256(key),
        };
        for (var i = 0; i < scopes.Length; i++) settings[$"Gateway:ApiKeys:{index}:Scopes:{i}"] = scopes[i];
        for (var i = 0; i < destinations.Length; i++) settings[$"Gateway:ApiKeys:{index}:Destinations:{i}"] = destinations[i];
        return settings;
    }

    /// <summary>The contract every answer to <see cref="Client"/> is checked against (the committed openapi.yaml);
    /// a test of the check itself sets another.</summary>
    public ContractValidator Contract { get; init; } = ContractValidator.Gateway;

    /// <summary>A client sending <paramref name="key"/> as a bearer token (none when null). Every answer it gets is
    /// checked against <see cref="Contract"/>: one that does not conform fails the request with a
    /// <see cref="ContractViolationException"/>. Redirects and cookies are handled as <c>CreateClient</c> does.</summary>
    public HttpClient Client(string? key = AdminKey)
    {
        List<DelegatingHandler> handlers = [];
        if (ClientOptions.AllowAutoRedirect) handlers.Add(new RedirectHandler(ClientOptions.MaxAutomaticRedirections));
        if (ClientOptions.HandleCookies) handlers.Add(new CookieContainerHandler());
        // Innermost, so it sees every answer as sent (a redirect too), before the handlers above act on it.
        handlers.Add(new ConformingHttpHandler(Contract));
        var client = CreateDefaultClient(ClientOptions.BaseAddress, [.. handlers]);
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _webhookDatabase.Dispose();
        _callsDatabase.Dispose();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(EnvironmentName);
        // The dashboard's assets as the build laid them out (wwwroot plus the compressed copies under obj/), the way
        // Development serves them: only a published gateway has them all in its own wwwroot.
        builder.UseStaticWebAssets();
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(Settings));
        if (!RealXmpp)
        {
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<IXmppPool>();
                services.AddSingleton<IXmppPool>(Xmpp);
            });
        }
    }
}
