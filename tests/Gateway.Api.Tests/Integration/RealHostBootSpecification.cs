using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Integration;

/// <summary>The real host with the real pool against a real XMPP server whose Active-Calls component is not connected:
/// the server itself answers for it, each in its own words (<see cref="AssertTheServersOwnAnswer"/>).</summary>
public abstract class RealHostBootSpecification(IXmppServerFixture server)
{
    /// <summary>What in the problem shows the server's own answer for a component that is not connected.</summary>
    protected abstract void AssertTheServersOwnAnswer(JsonObject problem);

    [Fact]
    public async Task TheRealHostBecomesReadyAndACommandToANotConnectedComponentIs503WithRetryAfter()
    {
        var user = "gw" + Guid.NewGuid().ToString("N")[..8];
        await server.RegisterAsync(user, "gateway-password-1");
        await using var gateway = new GatewayFactory { RealXmpp = true };
        gateway.Settings["Gateway:Xmpp:Jid"] = $"{user}@{server.Domain}";
        gateway.Settings["Gateway:Xmpp:Password"] = "gateway-password-1";
        gateway.Settings["Gateway:Xmpp:Host"] = server.Host;
        gateway.Settings["Gateway:Xmpp:Port"] = server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        gateway.Settings["Gateway:Xmpp:TrustedCertificatePath"] = server.CaCertificatePath;
        gateway.Settings["Gateway:Xmpp:PoolSize"] = "2";
        gateway.Settings["Gateway:Xmpp:InstanceName"] = "boot-test";
        gateway.Settings["Gateway:Components:Commands"] = server.ActiveCallsComponent;
        var client = gateway.Client();

        // Ready (200) as soon as one connection is up (Degraded); wait until every pooled connection is.
        JsonObject health;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((string?)(health = await (await client.GetAsync("/health/ready", Ct)).JsonAsync())["status"] != "Healthy")
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "not ready: " + health);
            await Task.Delay(200, Ct);
        }
        Assert.Contains("2 of 2", (string?)health["checks"]!["xmpp-pool"]!["description"], StringComparison.Ordinal);

        var response = await client.PostJsonAsync("/calls", CreateBody(callSetupId: "boot0001"));

        var problem = await response.AssertProblemAsync(503, "component-unavailable");
        AssertTheServersOwnAnswer(problem);
        Assert.Equal(server.ActiveCallsComponent, (string?)problem["component"]);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Null(await gateway.Calls.FindAsync("boot0001", TestContext.Current.CancellationToken));
    }
}
