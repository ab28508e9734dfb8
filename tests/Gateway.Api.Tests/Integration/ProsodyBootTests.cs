using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Integration;

/// <summary>The real host with the real pool against a real Prosody (whose Active-Calls component is configured but
/// not connected: Prosody itself answers for it).</summary>
[Collection(ProsodyCollection.Name)]
public sealed class ProsodyBootTests(ProsodyFixture prosody)
{
    [Fact]
    public async Task TheRealHostBecomesReadyAndACommandToANotConnectedComponentIs503WithRetryAfter()
    {
        var user = "gw" + Guid.NewGuid().ToString("N")[..8];
        await prosody.RegisterAsync(user, "gateway-password-1");
        await using var gateway = new GatewayFactory { RealXmpp = true };
        gateway.Settings["Gateway:Xmpp:Jid"] = $"{user}@{prosody.Domain}";
        gateway.Settings["Gateway:Xmpp:Password"] = "gateway-password-1";
        gateway.Settings["Gateway:Xmpp:Host"] = prosody.Host;
        gateway.Settings["Gateway:Xmpp:Port"] = prosody.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        gateway.Settings["Gateway:Xmpp:TrustedCertificatePath"] = prosody.CaCertificatePath;
        gateway.Settings["Gateway:Xmpp:PoolSize"] = "2";
        gateway.Settings["Gateway:Xmpp:InstanceName"] = "boot-test";
        gateway.Settings["Gateway:Components:Commands"] = prosody.ActiveCallsComponent;
        var client = gateway.Client();

        // Ready (200) as soon as one connection is up (Degraded); wait until every pooled connection is.
        System.Text.Json.Nodes.JsonObject health;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((string?)(health = await (await client.GetAsync("/health/ready", Ct)).JsonAsync())["status"] != "Healthy")
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "not ready: " + health);
            await Task.Delay(200, Ct);
        }
        Assert.Contains("2 of 2", (string?)health["checks"]!["xmpp-pool"]!["description"], StringComparison.Ordinal);

        var response = await client.PostJsonAsync("/calls", CreateBody(callSetupId: "boot0001"));

        var problem = await response.AssertProblemAsync(503, "component-unavailable");
        Assert.Equal("not-connected", (string?)problem["xmppApplicationCondition"]);
        Assert.Equal(prosody.ActiveCallsComponent, (string?)problem["component"]);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Null(await gateway.Calls.FindAsync("boot0001", TestContext.Current.CancellationToken));
    }
}
