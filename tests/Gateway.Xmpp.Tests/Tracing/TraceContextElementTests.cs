using System.Collections.Concurrent;
using System.Diagnostics;
using System.Xml.Linq;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Tests.Fakes;
using Gateway.Xmpp.Tracing;

namespace Gateway.Xmpp.Tests.Tracing;

/// <summary>
/// The W3C trace context carried inside an ad-hoc <c>&lt;command/&gt;</c>:
/// <c>&lt;trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='00-…-…-01'/&gt;</c>. Read strictly:
/// anything that is not a valid W3C context is ignored, never an error.
/// </summary>
[Collection(ProcessWideTracingCollection.Name)]
public sealed class TraceContextElementTests
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private static XElement Command(string traceContext) => XElement.Parse(
        $"<command xmlns='http://jabber.org/protocol/commands' node='create'>{traceContext}</command>");

    [Fact]
    public void AContextIsWrittenAsOneElementInOurNamespaceWithTraceparentAndTracestate()
    {
        var context = new ActivityContext(ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736"),
            ActivitySpanId.CreateFromString("00f067aa0ba902b7"), ActivityTraceFlags.Recorded, "vendor=abc");

        var element = TraceContextElement.Format(context);

        Assert.Equal(
            $"<trace-context traceparent=\"{TraceParent}\" tracestate=\"vendor=abc\" xmlns=\"urn:activecalls-gateway:trace-context:0\" />",
            element!.ToString(SaveOptions.DisableFormatting));
    }

    [Fact]
    public void TheContextInsideACommandIsReadBackAsARemoteParent()
    {
        var command = Command($"<trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='{TraceParent}' tracestate='a=1,b=2'/>");

        Assert.True(TraceContextElement.TryRead(command, out var context));
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", context.TraceId.ToHexString());
        Assert.Equal("00f067aa0ba902b7", context.SpanId.ToHexString());
        Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        Assert.Equal("a=1,b=2", context.TraceState);
        Assert.True(context.IsRemote);
    }

    [Fact]
    public void ACommandWithoutTheElementHasNoContext()
    {
        Assert.False(TraceContextElement.TryRead(Command("<x xmlns='jabber:x:data' type='submit'/>"), out var context));
        Assert.Equal(default, context);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] // another version
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")] // upper case
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] // all-zero trace id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")] // all-zero span id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01")] // not hex
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01")]
    public void AMalformedTraceparentIsIgnored(string traceParent)
    {
        var command = Command($"<trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='{traceParent}'/>");

        Assert.False(TraceContextElement.TryRead(command, out var context));
        Assert.Equal(default, context);
    }

    [Fact]
    public void AnOverlongOrMalformedTracestateMakesTheWholeElementIgnored()
    {
        var overlong = string.Join(",", Enumerable.Range(0, 60).Select(i => $"k{i}=" + new string('v', 8)));
        Assert.True(overlong.Length > TraceContextElement.MaxTraceStateLength);

        Assert.False(TraceContextElement.TryRead(Command(
            $"<trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='{TraceParent}' tracestate='{overlong}'/>"), out _));
        Assert.False(TraceContextElement.TryRead(Command(
            $"<trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='{TraceParent}' tracestate='no-equals-sign'/>"), out _));
        Assert.False(TraceContextElement.TryRead(Command(
            $"<trace-context xmlns='urn:activecalls-gateway:trace-context:0' traceparent='{TraceParent}' tracestate='a=é'/>"), out _));
    }

    [Fact]
    public void AnElementOfTheSameNameInAnotherNamespaceIsNotOurs()
    {
        Assert.False(TraceContextElement.TryRead(Command($"<trace-context xmlns='urn:someone-else' traceparent='{TraceParent}'/>"), out _));
    }

    [Fact]
    public async Task ACommandSentWhileTracedCarriesItsSpansContextInsideTheCommand()
    {
        using var listener = ListenTo(XmppTracing.SourceName);
        var sender = new ScriptedIqSender().Reply(
            "<iq type='result' id='x'><command xmlns='http://jabber.org/protocol/commands' node='create' status='completed' sessionid='s1'/></iq>");
        var client = new AdHocCommandClient(sender);
        var stopped = new ConcurrentQueue<Activity>();
        listener.ActivityStopped = stopped.Enqueue;

        await client.ExecuteAsync(Jid.Parse("traced.example.com"), "create", DataForm.Submit().Build(), ct: TestContext.Current.CancellationToken);

        var command = sender.LastSent.Payload;
        // The IQ's one payload child is still the <command/>; the context is inside it.
        Assert.Equal(Ns.Commands + "command", command.Name);
        Assert.True(TraceContextElement.TryRead(command, out var sent));
        // Other tests may send commands meanwhile: this one's went to traced.example.com.
        var span = Assert.Single(stopped, s => (string?)s.GetTagItem("xmpp.to") == "traced.example.com");
        Assert.Equal(span.TraceId, sent.TraceId);
        Assert.Equal(span.SpanId, sent.SpanId);
        Assert.Equal("xmpp.command create", span.DisplayName);
        Assert.Equal("completed", span.GetTagItem("xmpp.command.status"));
    }

    [Fact]
    public async Task ACommandSentWithoutAListenerCarriesNoContext()
    {
        var sender = new ScriptedIqSender().Reply(
            "<iq type='result' id='x'><command xmlns='http://jabber.org/protocol/commands' node='create' status='completed' sessionid='s1'/></iq>");

        await new AdHocCommandClient(sender).ExecuteAsync(Jid.Parse("commands.active-calls.example.com"), "create", DataForm.Submit().Build(),
            ct: TestContext.Current.CancellationToken);

        Assert.Null(sender.LastSent.Payload.Element(TraceContextElement.Name));
    }

    [Fact]
    public async Task AFailedCommandsSpanNamesTheStanzaErrorCondition()
    {
        using var listener = ListenTo(XmppTracing.SourceName);
        var stopped = new ConcurrentQueue<Activity>();
        listener.ActivityStopped = stopped.Enqueue;
        var sender = new ScriptedIqSender().Reply(
            "<iq type='error' id='x'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");

        await Assert.ThrowsAsync<XmppStanzaErrorException>(() => new AdHocCommandClient(sender).ExecuteAsync(
            Jid.Parse("refusing.example.com"), "terminate", DataForm.Submit().Build(), ct: TestContext.Current.CancellationToken));

        var span = Assert.Single(stopped, s => (string?)s.GetTagItem("xmpp.to") == "refusing.example.com");
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("item-not-found", span.GetTagItem("error.type"));
    }

    private static ActivityListener ListenTo(string source)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}

/// <summary>A listener is process-wide: while one is on, every other test's commands would carry a trace context (and
/// their XML would differ from what those tests show), so the tests that listen run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideTracingCollection
{
    public const string Name = "Process-wide tracing";
}
