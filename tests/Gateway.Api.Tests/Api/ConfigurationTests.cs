using Gateway.Api.Hosting;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Xmpp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>Bad configuration stops the gateway at start-up with a message that names the setting.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("Gateway:Xmpp:Jid", "", "Gateway:Xmpp:Jid is required")]
    [InlineData("Gateway:Xmpp:Jid", "gateway@example.com/res", "is not a bare JID")]
    [InlineData("Gateway:Xmpp:IqTimeout", "00:00:20", "must exceed Gateway:Xmpp:IqTimeout")]
    [InlineData("Gateway:Xmpp:TrustedCertificatePath", "/nonexistent/ca.crt", "does not exist")]
    [InlineData("Gateway:Xmpp:Endpoint", "ftp://xmpp.example.com", "Gateway:Xmpp:Endpoint: XMPP endpoint 'ftp://xmpp.example.com': unknown scheme")]
    [InlineData("Gateway:Xmpp:Endpoint", "xmpp://xmpp.example.com/path", "an xmpp:// endpoint names a host and port only")]
    [InlineData("Gateway:Xmpp:Endpoint", "ws://xmpp.example.com/xmpp-websocket", "Gateway:Xmpp:Endpoint 'ws://xmpp.example.com/xmpp-websocket' is not encrypted: use wss://")]
    [InlineData("Gateway:Xmpp:Endpoint", "http://xmpp.example.com/http-bind", "Gateway:Xmpp:Endpoint 'http://xmpp.example.com/http-bind' is not encrypted: use https://")]
    [InlineData("Gateway:Components:Commands", "user@commands.example.com", "is not a component JID")]
    [InlineData("Gateway:ApiKeys:0:Hash", "alice-key-0123456789", "not the key itself")]
    [InlineData("Gateway:ApiKeys:0:Scopes:0", "alice@*", "is not \"user@domain\"")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "1555*", "Gateway:ApiKeys:0:Destinations entry '1555*' has no domain: a number prefix names the domain its numbers are dialled at ('1555*@example.com')")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "+1555*", "entry '+1555*' has no domain")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "*alice@example.com", "entry '*alice@example.com' uses '*' other than as the whole user part")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "15*55@example.com", "uses '*' other than as the whole user part")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "1555*@*", "has '*' as its domain, which only '*@*' may")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "*@exa mple.com", "has no valid domain")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "tel:+15555554567", "is a sips: or tel: URI")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "bob", "entry 'bob' is not 'user@domain'")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "bob@example.com;transport=tcp", "has no valid domain")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", "b<o>b@example.com", "is not a SIP address")]
    [InlineData("Gateway:ApiKeys:0:Destinations:0", " ", "entry ' ' is empty")]
    [InlineData("Gateway:Http:MaxRequestBodyBytes", "10", "MaxRequestBodyBytes must be between")]
    [InlineData("Gateway:Streaming:ReplayWindow", "0", "Gateway:Streaming:ReplayWindow must be between")]
    [InlineData("Gateway:Streaming:ConnectionBuffer", "0", "Gateway:Streaming:ConnectionBuffer must be between")]
    [InlineData("Gateway:Streaming:HeartbeatInterval", "00:00:00", "Gateway:Streaming:HeartbeatInterval must be between")]
    [InlineData("Gateway:Streaming:StatefulReconnectBufferBytes", "100", "StatefulReconnectBufferBytes must be between")]
    [InlineData("Gateway:Webhooks:RetrySchedule", "00:00:05, later", "Gateway:Webhooks:RetrySchedule: 'later' is not a duration")]
    [InlineData("Gateway:Webhooks:AttemptTimeout", "00:10:00", "Gateway:Webhooks:AttemptTimeout must be between")]
    [InlineData("Gateway:Webhooks:DatabasePath", "", "Gateway:Webhooks:DatabasePath is required")]
    [InlineData("Gateway:Dashboard:DevApiKey", "dev-gateway-key", "only allowed in the Development environment")]
    public async Task InvalidSettingsStopTheGatewayAtStartWithAClearMessage(string key, string value, string expected)
    {
        await using var app = await BuildAsync(key, value);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(app));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wss://xmpp.example.com/ws", "xmpp.example.com", "wss://xmpp.example.com/ws")]
    [InlineData(null, "xmpp.example.com", null)]
    [InlineData(null, "", "xmpp://example.com")]
    public void TheEndpointSettingWinsHostAndPortComeNextAndWithNeitherTheJidsDomainIsLookedUpBySrv(string? endpoint, string host, string? expected)
    {
        var options = new Gateway.Api.Configuration.XmppOptions { Jid = "gateway@example.com", Endpoint = endpoint, Host = host };

        Assert.Equal(expected, XmppPool.EndpointOf(options, Gateway.Xmpp.Core.Jid.Parse(options.Jid)));
    }

    [Fact]
    public async Task AWebhookDatabaseThatCannotBeOpenedStopsTheGatewayAtStart()
    {
        // A folder where the file should be.
        await using var app = await BuildAsync("Gateway:Webhooks:DatabasePath", Path.GetTempPath());

        var error = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => StartAsync(app));

        Assert.Contains("unable to open database file", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The same composition as Program.cs, on a test server (WebApplicationFactory hides start-up failures behind its own).</summary>
    private static async Task<WebApplication> BuildAsync(string key, string value)
    {
        await using var settingsSource = new GatewayFactory();
        var settings = new Dictionary<string, string?>(settingsSource.Settings) { [key] = value };
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseTestServer();
        builder.AddGatewayApi();
        builder.Services.RemoveAll<IXmppPool>();
        builder.Services.AddSingleton<IXmppPool>(new FakeXmppPool());
        return builder.Build();
    }

    /// <summary>Mapping the SignalR hub already reads the streaming options, so start-up here is mapping and starting.</summary>
    private static Task StartAsync(WebApplication app)
    {
        app.UseGatewayApi();
        app.MapGatewayEndpoints();
        return app.StartAsync(Ct);
    }
}
