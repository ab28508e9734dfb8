using System.Collections.Concurrent;
using System.Diagnostics;
using static ActiveCalls.Sip.Tests.Transactions.TransactionHarness;

namespace ActiveCalls.Sip.Tests.Transactions;

/// <summary>One span per transaction (<see cref="SipTracing"/>), with its final status and retransmissions, and in the
/// trace a Call-ID is followed in.</summary>
public sealed class TransactionTracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public TransactionTracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == SipTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task AClientTransactionsSpanCountsItsRetransmissionsAndEndsWithTheFinalStatus()
    {
        await using var h = new TransactionHarness();
        var options = h.Outgoing("OPTIONS");
        h.Layer.SendRequest(options, h.Peer.EndPoint, (_, _) => { });
        await h.Peer.ReceiveRequestAsync("OPTIONS");
        h.Time.Advance(TimeSpan.FromMilliseconds(500)); // Timer E: sent again
        h.Time.Advance(TimeSpan.FromMilliseconds(1000)); // and again
        await h.Peer.ReceiveRequestAsync("OPTIONS");
        var last = await h.Peer.ReceiveRequestAsync("OPTIONS");

        h.Peer.Send(last.CreateResponse(200, toTag: "p"), h.StackEndPoint);

        await EventuallyAsync(() => _spans.Any(s => (string?)s.GetTagItem("sip.call_id") == options.CallId), "the span ends with the 200");
        var span = Assert.Single(_spans, s => (string?)s.GetTagItem("sip.call_id") == options.CallId);
        Assert.Equal("SIP OPTIONS", span.DisplayName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal(200, span.GetTagItem("sip.status_code"));
        Assert.Equal(2, span.GetTagItem("sip.retransmissions"));
    }

    [Fact]
    public async Task ARequestOfAFollowedCallIdIsTracedInThatCallsTrace()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(200, toTag: "s")));
        var call = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        h.Layer.Traces.Follow("followed-1", call);
        var bye = h.Incoming("BYE", "z9hG4bK-bye-1", callId: "followed-1", toTag: "s");

        h.Peer.Send(bye, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(200);

        var span = Assert.Single(_spans, s => (string?)s.GetTagItem("sip.call_id") == "followed-1");
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(call.TraceId, span.TraceId);
        Assert.Equal(call.SpanId, span.ParentSpanId);
        Assert.Equal(200, span.GetTagItem("sip.status_code"));
    }

    [Fact]
    public async Task ACallIdNoLongerFollowedStartsATraceOfItsOwn()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(200, toTag: "s")));
        var call = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        h.Layer.Traces.Follow("forgotten-1", call);
        h.Layer.Traces.Forget("forgotten-1");

        h.Peer.Send(h.Incoming("BYE", "z9hG4bK-bye-2", callId: "forgotten-1", toTag: "s"), h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(200);

        var span = Assert.Single(_spans, s => (string?)s.GetTagItem("sip.call_id") == "forgotten-1");
        Assert.NotEqual(call.TraceId, span.TraceId);
    }
}
