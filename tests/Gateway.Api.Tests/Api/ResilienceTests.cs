using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

public sealed class ResilienceTests
{
    [Fact]
    public async Task TheCircuitOpensWhenTheComponentKeepsTimingOutAndThenFailsFastWith503()
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Resilience:BreakerMinimumThroughput"] = "2";
        gateway.Settings["Gateway:Resilience:BreakerFailureRatio"] = "0.5";
        gateway.Settings["Gateway:Resilience:BreakerBreakDuration"] = "00:00:30";
        for (var i = 0; i < 2; i++) gateway.Xmpp.Throw(new XmppIqTimeoutException("iq", TimeSpan.FromSeconds(2)));
        var client = gateway.Client();

        await (await client.PostJsonAsync("/calls", CreateBody(callSetupId: "call0001"))).AssertProblemAsync(504, "component-timeout");
        await (await client.PostJsonAsync("/calls", CreateBody(callSetupId: "call0002"))).AssertProblemAsync(504, "component-timeout");
        var open = await client.PostJsonAsync("/calls", CreateBody(callSetupId: "call0003"));

        var problem = await open.AssertProblemAsync(503, "component-unavailable");
        Assert.Equal(true, (bool?)problem["circuitOpen"]);
        Assert.True(open.Headers.RetryAfter?.Delta > TimeSpan.FromSeconds(20));
        Assert.Equal(2, gateway.Xmpp.Sent.Count); // nothing sent while open
    }

    [Fact]
    public async Task TheRateLimitOfAnApiKeyIs429WithRetryAfter()
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Http:Burst"] = "2";
        gateway.Settings["Gateway:Http:RequestsPerSecond"] = "1";
        var client = gateway.Client();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/calls", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/calls", Ct)).StatusCode);
        var limited = await client.GetAsync("/calls", Ct);

        await limited.AssertProblemAsync(429, "rate-limited");
        Assert.NotNull(limited.Headers.RetryAfter);
        // Another key has its own bucket.
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client(GatewayFactory.AliceKey).GetAsync("/calls", Ct)).StatusCode);
    }

    [Fact]
    public async Task TheConcurrencyLimitOfAnApiKeyIs429()
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Http:ConcurrentRequestsPerKey"] = "1";
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Xmpp.ReplyAfter(release.Task);
        var client = gateway.Client();

        var first = client.PostJsonAsync("/calls", CreateBody(callSetupId: "call0001"));
        while (gateway.Xmpp.Sent.Count == 0) await Task.Delay(10, Ct);
        var second = await client.PostJsonAsync("/calls", CreateBody(callSetupId: "call0002"));
        release.SetResult();

        var problem = await second.AssertProblemAsync(429, "rate-limited");
        Assert.Contains("in flight", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, (await first).StatusCode);
    }
}
