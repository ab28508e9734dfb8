using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using OpenTelemetry;
using OpenTelemetry.Trace;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// One call through the whole system (<see cref="EndToEndStack"/>: real Prosody, the reference service, sipp phones) is one
/// trace, collected with OpenTelemetry's in-memory exporter: the gateway's HTTP request, command IQs and events applied, and
/// the service's command handling, SIP transactions and PubSub publishes, then the gateway's webhook deliveries. Gateway and service share this process, so the
/// test proves the context crossed XMPP: the service's command span has a remote parent, the gateway's IQ span, and both
/// name the same IQ id.
/// </summary>
[Collection(TracingCollection.Name)]
public sealed class TracingEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);
    private readonly ConcurrentQueue<Activity> _spans = new();
    private TracerProvider? _tracing;

    public ValueTask InitializeAsync()
    {
        _tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource("Gateway.Api", "Gateway.Xmpp", "ActiveCalls.Service", "ActiveCalls.Sip")
            .AddAspNetCoreInstrumentation()
            .AddProcessor(new SimpleActivityExportProcessor(new QueueExporter(_spans)))
            .Build();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        _tracing?.Dispose();
    }

    [Fact]
    public async Task ACallCreatedConnectedAndHungUpIsOneTraceFromTheHttpRequestToTheSipTransactions()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var receiver = _stack.Own(await WebhookReceiver.StartAsync(0));
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var subscribed = await client.PostJsonAsync("/webhooks", $$"""{"url":"{{receiver.Url()}}"}""");
        Assert.Equal(HttpStatusCode.Created, subscribed.StatusCode);

        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        await WaitForCallAsync(client, id, State("ended"), "ended");
        var eventCount = (await EventsAsync(client, id)).Count;
        await receiver.WaitForAsync(r => r.Count >= eventCount, $"the {eventCount} events of call {id}");

        // Other tests' spans may be collected too: this call's trace is the one its create was handled in.
        var traceId = Assert.Single(_spans, s => s.DisplayName == "xmpp.command create" && (string?)s.GetTagItem("activecalls.call_setup_id") == id).TraceId;
        var trace = await SpansOfTraceAsync(traceId, t =>
            t.Any(s => s.DisplayName == "SIP BYE") && t.Any(s => s.Source.Name == "ActiveCalls.Service" && s.DisplayName == "xmpp.command terminate")
            && t.Any(s => s.Source.Name == "ActiveCalls.Service" && s.DisplayName == "pubsub.retract")
            && t.Count(s => s.DisplayName == "webhook.deliver") >= eventCount);

        // It starts with the POST /calls request.
        var post = Assert.Single(trace, s => s.Source.Name == "Microsoft.AspNetCore" && s.Kind == ActivityKind.Server);
        Assert.Equal("POST", post.GetTagItem("http.request.method"));
        Assert.Equal(default, post.ParentSpanId);

        // The create: the gateway's IQ span is the parent of the service's command span, across the XMPP server.
        var sent = Assert.Single(trace, s => s.Source.Name == "Gateway.Xmpp" && s.DisplayName == "xmpp.command create");
        var handled = Assert.Single(trace, s => s.Source.Name == "ActiveCalls.Service" && s.DisplayName == "xmpp.command create");
        Assert.Equal(sent.SpanId, handled.ParentSpanId);
        Assert.True(handled.HasRemoteParent, "the service's span is parented to the context read from the <command/>, not an ambient one");
        Assert.NotNull(sent.GetTagItem("xmpp.iq.id"));
        Assert.Equal(sent.GetTagItem("xmpp.iq.id"), handled.GetTagItem("xmpp.iq.id"));
        Assert.Equal(id, handled.GetTagItem("activecalls.call_setup_id"));
        Assert.Equal("completed", sent.GetTagItem("xmpp.command.status"));

        // The hang-up (another HTTP request) joins the call's trace: its terminate crosses XMPP the same way.
        var terminate = Assert.Single(trace, s => s.Source.Name == "Gateway.Xmpp" && s.DisplayName == "xmpp.command terminate");
        var terminated = Assert.Single(trace, s => s.Source.Name == "ActiveCalls.Service" && s.DisplayName == "xmpp.command terminate");
        Assert.Equal(terminate.SpanId, terminated.ParentSpanId);
        var hangup = Assert.Single(trace, s => s.DisplayName == "call.hangup");
        var delete = Assert.Single(_spans, s => s.Source.Name == "Microsoft.AspNetCore" && (string?)s.GetTagItem("http.request.method") == "DELETE"
                                                 && (string?)s.GetTagItem("url.path") == $"/calls/{id}");
        Assert.Contains(hangup.Links, l => l.Context.SpanId == delete.SpanId);

        // The service's SIP transactions: an INVITE to each phone, a BYE to each at the end, each with its final status.
        Assert.Equal(2, trace.Count(s => s.DisplayName == "SIP INVITE" && s.Kind == ActivityKind.Client && (int?)s.GetTagItem("sip.status_code") == 200));
        Assert.Equal(2, trace.Count(s => s.DisplayName == "SIP BYE" && (int?)s.GetTagItem("sip.status_code") == 200));
        Assert.Contains(trace, s => s.Source.Name == "ActiveCalls.Service" && s.DisplayName == "pubsub.publish" && (string?)s.GetTagItem("activecalls.call_setup_id") == id);

        // The gateway applied the service's events in the same trace and published the call's events from them.
        var applied = trace.Where(s => s.DisplayName == "call.events.apply").ToList();
        Assert.NotEmpty(applied);
        Assert.All(applied, s => Assert.Equal(id, s.GetTagItem("activecalls.call_id")));
        var published = applied.SelectMany(s => s.Events).Where(e => e.Name == "call.event.published")
            .Select(e => (string?)e.Tags.First(t => t.Key == "call.event.type").Value).ToList();
        Assert.Contains("call.connected", published);
        Assert.Contains("call.ended", published);

        // Each webhook delivery attempt is a span of the call's trace (each succeeded at once here).
        var deliveries = trace.Where(s => s.DisplayName == "webhook.deliver").ToList();
        Assert.Equal(eventCount, deliveries.Count);
        Assert.All(deliveries, s => Assert.Equal("succeeded", s.GetTagItem("webhook.delivery.state")));
        Assert.Contains(deliveries, s => (string?)s.GetTagItem("webhook.event.type") == "call.connected");
    }

    /// <summary>The spans of <paramref name="traceId"/> once <paramref name="complete"/> holds (spans end as their work
    /// does: the last BYE's transaction after the call's state says ended).</summary>
    private async Task<List<Activity>> SpansOfTraceAsync(ActivityTraceId traceId, Func<List<Activity>, bool> complete)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var trace = _spans.Where(s => s.TraceId == traceId).ToList();
            if (complete(trace) || DateTime.UtcNow > deadline) return trace;
            await Task.Delay(100, Ct);
        }
    }

    /// <summary>The in-memory exporter's idea, into a queue that other tests' spans may be added to concurrently.</summary>
    private sealed class QueueExporter(ConcurrentQueue<Activity> spans) : BaseExporter<Activity>
    {
        public override ExportResult Export(in Batch<Activity> batch)
        {
            foreach (var span in batch) spans.Enqueue(span);
            return ExportResult.Success;
        }
    }
}
