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
    [InlineData("Gateway:Components:Commands", "user@commands.example.com", "is not a component JID")]
    [InlineData("Gateway:ApiKeys:0:Hash", "alice-key-0123456789", "not the key itself")]
    [InlineData("Gateway:ApiKeys:0:Scopes:0", "alice@*", "is not \"user@domain\"")]
    [InlineData("Gateway:Http:MaxRequestBodyBytes", "10", "MaxRequestBodyBytes must be between")]
    [InlineData("Gateway:Streaming:ReplayWindow", "0", "Gateway:Streaming:ReplayWindow must be between")]
    [InlineData("Gateway:Streaming:ConnectionBuffer", "0", "Gateway:Streaming:ConnectionBuffer must be between")]
    [InlineData("Gateway:Streaming:HeartbeatInterval", "00:00:00", "Gateway:Streaming:HeartbeatInterval must be between")]
    [InlineData("Gateway:Streaming:StatefulReconnectBufferBytes", "100", "StatefulReconnectBufferBytes must be between")]
    public async Task InvalidSettingsStopTheGatewayAtStartWithAClearMessage(string key, string value, string expected)
    {
        // The same composition as Program.cs, on a test server (WebApplicationFactory hides start-up failures behind its own).
        await using var settingsSource = new GatewayFactory();
        var settings = new Dictionary<string, string?>(settingsSource.Settings) { [key] = value };
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseTestServer();
        builder.AddGatewayApi();
        builder.Services.RemoveAll<IXmppPool>();
        builder.Services.AddSingleton<IXmppPool>(new FakeXmppPool());
        await using var app = builder.Build();

        // Mapping the SignalR hub already reads the streaming options, so start-up here is mapping and starting.
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
        {
            app.UseGatewayApi();
            app.MapGatewayEndpoints();
            return app.StartAsync(Ct);
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
