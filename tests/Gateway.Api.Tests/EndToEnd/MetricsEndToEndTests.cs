using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Xmpp;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using Gateway.Xmpp.Client;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The Prometheus endpoints of both programs against the whole system (<see cref="EndToEndStack"/>: real Prosody, the
/// reference service calling sipp phones, the gateway's real pool and subscription): after real calls the scrapes carry
/// the named metrics with the values those calls must have left, and every metric the Grafana dashboard, the alert rules
/// and the README's Operate table name is in them.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class MetricsEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private const string MetricsKey = "metrics-key-0123456789";
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task AfterACallBothProgramsServeItsMetricsAndTheGatewaysWantAKeyWithTheMetricsScope()
    {
        var servicePort = FreePort();
        _stack.ServiceSettings["ActiveCalls:Telemetry:Metrics:Enabled"] = "true";
        _stack.ServiceSettings["ActiveCalls:Telemetry:Metrics:Port"] = servicePort.ToString(CultureInfo.InvariantCulture);
        _stack.GatewaySettings["Gateway:Telemetry:Metrics:Enabled"] = "true";
        foreach (var (key, value) in GatewayFactory.KeySettings(3, "prometheus", MetricsKey, ["metrics"], [])) _stack.GatewaySettings[key] = value;
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var carol = await _stack.PhoneAsync("never-respond", "carol");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob), ("carol@activecalls.test", carol));

        // Protected: no key is 401, a key without the scope 403, the metrics key (or the admin key) 200.
        var anonymous = _stack.Gateway.Client(key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.Gateway.Client(GatewayFactory.AliceKey).GetAsync("/metrics", Ct)).StatusCode);
        var prometheus = _stack.Gateway.Client(MetricsKey);
        Assert.Equal(HttpStatusCode.OK, (await prometheus.GetAsync("/metrics", Ct)).StatusCode);
        // The metrics key acts for nobody.
        Assert.Equal(HttpStatusCode.Forbidden, (await prometheus.PostJsonAsync("/calls", $$"""{"from":"{{Alice}}","to":"{{Bob}}"}""")).StatusCode);

        // A webhook whose endpoint refuses connections: its attempts fail.
        var webhook = await client.PostJsonAsync("/webhooks", $$"""{"url":"http://127.0.0.1:{{FreePort()}}/hook"}""");
        Assert.Equal(HttpStatusCode.Created, webhook.StatusCode);

        // A dashboard following the calls over SSE.
        await using var stream = await SseStreamClient.OpenAsync(client, "/calls/stream");
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        var connected = await ScrapeGatewayAsync(prometheus, s => s.Value("gateway_calls_active", "state=connected") == 1, "one connected call");
        Assert.Equal(1, connected.Value("gateway_calls_active"));
        Assert.Equal(1, connected.Value("gateway_stream_connections", "transport=sse"));
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await WaitForCallAsync(client, id, State("ended"), "ended");
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();

        var gateway = await ScrapeGatewayAsync(prometheus, s => s.Value("gateway_calls_active") == 0 && s.Value("gateway_webhook_failures_total") >= 1,
            "no active call, and a failed webhook attempt");
        Assert.All(gateway.Samples.Where(s => s.Name == "gateway_calls_active"), s => Assert.Equal(0, s.Value));
        Assert.True(gateway.Value("gateway_command_duration_seconds_count", "node=create", "outcome=success") >= 1, "create counted");
        Assert.True(gateway.Value("gateway_command_duration_seconds_count", "node=terminate", "outcome=success") >= 1, "terminate counted");
        Assert.True(gateway.Value("http_server_request_duration_seconds_count", "http_route=/calls/", "http_request_method=POST", "http_response_status_code=202") >= 1,
            "POST /calls 202 counted by route and status");
        Assert.True(gateway.Value("gateway_call_events_total", "type=call.connected") >= 1, "call.connected counted");
        Assert.True(gateway.Value("gateway_call_events_total", "type=call.ended") >= 1, "call.ended counted");
        Assert.True(gateway.Value("gateway_events_items_total", "kind=publish") >= 1, "PubSub items counted");
        Assert.True(gateway.Value("gateway_events_items_total", "kind=retract") >= 1, "PubSub retracts counted");
        Assert.Equal(1, gateway.Value("gateway_events_subscription_state", "state=active"));
        Assert.Equal(2, gateway.Value("gateway_events_followed_users", "state=authorized"));
        Assert.Equal(2, gateway.Value("gateway_xmpp_connections", "state=established"));
        Assert.True(gateway.Value("gateway_webhook_failures_total", "reason=network") >= 1, "the refused webhook counted");

        // carol's phone never answers: the service sends her INVITE again (timer A).
        await CreateCallAsync(client, Carol, Bob);
        // A pooled connection dropped under the gateway reconnects.
        var pool = (XmppPool)_stack.Gateway.Services.GetRequiredService<IXmppPool>();
        ((XmppClient)pool.Clients.Receiver!).AbortConnection("killed by the test");

        var serviceClient = new HttpClient { BaseAddress = new Uri($"http://localhost:{servicePort}") };
        var service = await ScrapeAsync(serviceClient, s => s.Value("sip_retransmissions_total", "sip_method=INVITE", "direction=sent") >= 1, "an INVITE retransmitted");
        Assert.True(service.Value("sip_transactions_total", "sip_method=INVITE", "sip_status_code=200", "sip_role=client") >= 2, "both INVITEs answered 200");
        Assert.True(service.Value("sip_transactions_total", "sip_method=BYE", "sip_role=client") >= 2, "both BYEs");
        Assert.True(service.Value("activecalls_calls_placed_total") >= 2, "calls placed");
        Assert.True(service.Value("activecalls_command_duration_seconds_count", "node=create", "outcome=completed") >= 2, "creates handled");
        Assert.True(service.Value("activecalls_pubsub_publishes_total", "kind=publish") >= 1, "items published");
        gateway = await ScrapeGatewayAsync(prometheus, s => s.Value("xmpp_connection_reconnects_total") >= 1 && s.Value("gateway_health_status") is not null,
            "the reconnect and the readiness checks");

        // Everything an operator is told to look at exists, under the name it really has.
        MetricReferences.AssertAllExist(gateway.Names.Union(service.Names).ToHashSet(StringComparer.Ordinal));
    }

    private static Task<PrometheusScrape> ScrapeGatewayAsync(HttpClient prometheus, Func<PrometheusScrape, bool> until, string what) =>
        ScrapeAsync(prometheus, until, what);

    private static async Task<PrometheusScrape> ScrapeAsync(HttpClient client, Func<PrometheusScrape, bool> until, string what)
    {
        PrometheusScrape? last = null;
        try
        {
            return await EventuallyAsync(async () => last = await ReadAsync(client), until, what);
        }
        catch
        {
            if (last is not null) await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "metrics-e2e-last-scrape.txt"), last.Text, CancellationToken.None);
            throw;
        }
    }

    private static async Task<PrometheusScrape> ReadAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new PrometheusScrape(await response.Content.ReadAsStringAsync(Ct));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
