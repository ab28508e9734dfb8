using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Metrics;

/// <summary>Where the gateway's Prometheus endpoint answers: nowhere by default, behind an API key with the metrics scope
/// (the end-to-end test), or on a port of its own without a key and nowhere else.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task ThereIsNoMetricsEndpointUnlessItIsEnabled()
    {
        await using var gateway = new GatewayFactory();

        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client().GetAsync("/metrics", Ct)).StatusCode);
    }

    [Fact]
    public async Task OnItsOwnPortTheEndpointWantsNoKeyAndTheApiPortDoesNotServeIt()
    {
        var metricsPort = FreePort();
        await using var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Telemetry:Metrics:Enabled"] = "true";
        gateway.Settings["Gateway:Telemetry:Metrics:Port"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        gateway.StartOnKestrel(metricsPort);

        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };
        var scrape = await scraper.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var metrics = new PrometheusScrape(await scrape.Content.ReadAsStringAsync(Ct));
        Assert.Contains("gateway_events_subscription_state", metrics.Names);

        // The API's port answers the path with 404, with or without a key; the metrics port serves nothing else.
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client().GetAsync("/metrics", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client(key: null).GetAsync("/metrics", Ct)).StatusCode);
        scraper.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayFactory.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await scraper.GetAsync("/calls", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client().GetAsync("/calls", Ct)).StatusCode);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
