using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Xmpp.Tracing;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>The command span of the service: parented to the trace context the requester put inside the
/// <c>&lt;command/&gt;</c>, a trace of its own when there is none or it is not a valid W3C context.</summary>
public sealed class CommandTracingTests : IDisposable
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SpanId = "00f067aa0ba902b7";
    private readonly CommandTestHost _host = new();
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public CommandTracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ServiceTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task ACreateCarryingATraceContextIsHandledInAChildSpanOfTheRequestersSpan()
    {
        var command = Stanzas.Command("create", form: Stanzas.Create());
        command.Add(TraceContextElement.Format(new ActivityContext(
            ActivityTraceId.CreateFromString(TraceId), ActivitySpanId.CreateFromString(SpanId), ActivityTraceFlags.Recorded)));

        var reply = await _host.CommandAsync(command);

        Assert.Equal("result", (string?)reply.Attribute("type"));
        var span = Assert.Single(_spans, s => s.TraceId.ToHexString() == TraceId);
        Assert.Equal("xmpp.command create", span.DisplayName);
        Assert.Equal(SpanId, span.ParentSpanId.ToHexString());
        Assert.True(span.HasRemoteParent);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal("completed", span.GetTagItem("xmpp.command.status"));
        Assert.NotNull(span.GetTagItem("activecalls.call_setup_id"));
    }

    [Fact]
    public async Task AGarbledTraceContextIsIgnoredAndTheCommandStillRuns()
    {
        var command = Stanzas.Command("create", form: Stanzas.Create());
        command.Add(new System.Xml.Linq.XElement(TraceContextElement.Name, new System.Xml.Linq.XAttribute("traceparent", "00-" + TraceId + "-zz")));

        var reply = await _host.CommandAsync(command);

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.DoesNotContain(_spans, s => s.TraceId.ToHexString() == TraceId);
        Assert.Contains(_spans, s => s.DisplayName == "xmpp.command create" && !s.HasRemoteParent);
    }

    [Fact]
    public async Task ARefusedCommandsSpanNamesTheErrorCondition()
    {
        await _host.CommandAsync(Stanzas.Command("no-such-node", form: Stanzas.Create()));

        Assert.Contains(_spans, s => s.DisplayName == "xmpp.command unknown" && s.Status == ActivityStatusCode.Error
                                     && (string?)s.GetTagItem("error.type") == "item-not-found");
    }
}
