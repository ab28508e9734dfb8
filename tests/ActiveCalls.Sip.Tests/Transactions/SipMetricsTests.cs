using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static ActiveCalls.Sip.Tests.Transactions.TransactionHarness;

namespace ActiveCalls.Sip.Tests.Transactions;

/// <summary><see cref="SipMetrics"/> on the transaction layer: finished transactions by method, final status and role,
/// and retransmissions either way. The meter is the process's, so each test looks for what only it does.</summary>
public class SipMetricsTests
{
    private static bool Has(MetricCollector<long> collector, params (string Key, object Value)[] tags) =>
        collector.GetMeasurementSnapshot().Any(m => tags.All(t => Equals(m.Tags[t.Key], t.Value)));

    [Fact]
    public async Task AnAnsweredRequestOfAnUnknownMethodCountsAsOtherWithItsStatusAndItsRetransmissionAsReceived()
    {
        using var transactions = new MetricCollector<long>(null, SipMetrics.MeterName, "sip.transactions");
        using var retransmissions = new MetricCollector<long>(null, SipMetrics.MeterName, "sip.retransmissions");
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(501)));
        var request = h.Incoming("FROBNICATE" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant(), "z9hG4bKmetrics1");

        h.Peer.Send(request, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(501);
        h.Peer.Send(request, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(501);

        // Any method name a stranger sends is one series, _OTHER.
        Assert.True(Has(transactions, ("sip.method", "_OTHER"), ("sip.status_code", 501), ("sip.role", "server")));
        await EventuallyAsync(() => Has(retransmissions, ("sip.method", "_OTHER"), ("direction", "received")), "the retransmission counted");
    }

    [Fact]
    public async Task ARequestWithoutAnswerIsSentAgainOnTimerEAndEndsAsALocal408()
    {
        using var transactions = new MetricCollector<long>(null, SipMetrics.MeterName, "sip.transactions");
        using var retransmissions = new MetricCollector<long>(null, SipMetrics.MeterName, "sip.retransmissions");
        await using var h = new TransactionHarness();
        var tx = h.Layer.SendRequest(h.Outgoing("MESSAGE"), h.Peer.EndPoint, (_, _) => { });
        await h.Peer.ReceiveRequestAsync("MESSAGE");

        h.Time.Advance(h.Timers.T1);
        await h.Peer.ReceiveRequestAsync("MESSAGE");
        await EventuallyAsync(() => Has(retransmissions, ("sip.method", "MESSAGE"), ("direction", "sent")), "the retransmission counted");
        h.Time.Advance(h.Timers.TransactionTimeout);
        Assert.Equal(408, (await tx.FinalResponse).StatusCode);
        Assert.True(Has(transactions, ("sip.method", "MESSAGE"), ("sip.status_code", 408), ("sip.role", "client")));
    }
}
