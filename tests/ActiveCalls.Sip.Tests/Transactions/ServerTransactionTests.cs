using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transactions;
using static ActiveCalls.Sip.Tests.Transactions.TransactionHarness;

namespace ActiveCalls.Sip.Tests.Transactions;

public class ServerTransactionTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    [Fact]
    public async Task AnInviteIsAnsweredWith100TryingAtOnceAndItsRetransmissionGetsTheLastProvisional()
    {
        await using var h = new TransactionHarness();
        var invite = h.Incoming("INVITE", "z9hG4bKinv1");
        h.Peer.Send(invite, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        await EventuallyAsync(() => h.Requests.Count == 1, "the TU gets the INVITE");
        var tx = Assert.IsType<InviteServerTransaction>(Assert.Single(h.Requests));
        tx.SendResponse(tx.Request.CreateResponse(180, toTag: "st1"));
        await h.Peer.ReceiveResponseAsync(180);

        h.Peer.Send(invite, h.StackEndPoint);
        var again = await h.Peer.ReceiveResponseAsync(180);
        Assert.Equal("st1", again.To.Tag);
        Assert.Single(h.Requests); // the retransmission is absorbed
    }

    [Fact]
    public async Task ANonSuccessFinalIsRetransmittedWithTimerGUntilTheAckWhichIsAbsorbed()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(486, toTag: "st2")));
        h.Peer.Send(h.Incoming("INVITE", "z9hG4bKinv2"), h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(486);
        foreach (var ms in new[] { 500, 1000, 2000, 4000 })
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(ms));
            await h.Peer.ReceiveResponseAsync(486);
        }
        h.Peer.Send(h.Incoming("ACK", "z9hG4bKinv2", toTag: "st2"), h.StackEndPoint);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        h.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        Assert.Empty(h.Acks); // absorbed by the transaction
        Assert.Equal(1, h.Layer.ActiveCount); // Confirmed, waiting Timer I
        h.Time.Advance(TimeSpan.FromSeconds(1)); // T4 in all
        await EventuallyAsync(() => h.Layer.ActiveCount == 0, "Timer I ends the transaction");
    }

    [Fact]
    public async Task WithoutAnAckTimerHEndsTheTransaction()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(603, toTag: "st3")));
        h.Peer.Send(h.Incoming("INVITE", "z9hG4bKinv3"), h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(603);
        for (int i = 0; i < 16 && h.Layer.ActiveCount > 0; i++) h.Time.Advance(TimeSpan.FromSeconds(2));
        await EventuallyAsync(() => h.Layer.ActiveCount == 0, "Timer H ends the transaction");
    }

    [Fact]
    public async Task A2xxEndsTheServerInviteTransactionSoItsAckGoesToTheTransactionUser()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(200, toTag: "st4")));
        h.Peer.Send(h.Incoming("INVITE", "z9hG4bKinv4"), h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(0, h.Layer.ActiveCount);
        h.Peer.Send(h.Incoming("ACK", "z9hG4bKack4", toTag: "st4"), h.StackEndPoint);
        await EventuallyAsync(() => h.Acks.Count == 1, "the 2xx ACK reaches the TU");
    }

    [Fact]
    public async Task ANonInviteRetransmissionGetsTheSameFinalResponseUntilTimerJ()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(200, toTag: "st5")));
        var bye = h.Incoming("BYE", "z9hG4bKbye5", toTag: "st5");
        h.Peer.Send(bye, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(200);
        h.Peer.Send(bye, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(200);
        Assert.Single(h.Requests);
        h.Time.Advance(TimeSpan.FromSeconds(32));
        await EventuallyAsync(() => h.Layer.ActiveCount == 0, "Timer J ends the transaction");
        h.Peer.Send(bye, h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(2, h.Requests.Count); // after Timer J it is a new request
    }

    [Fact]
    public async Task ACancelFindsTheInviteTransactionItCancels()
    {
        await using var h = new TransactionHarness();
        h.Peer.Send(h.Incoming("INVITE", "z9hG4bKinv6", callId: "c6"), h.StackEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        h.Peer.Send(h.Incoming("CANCEL", "z9hG4bKinv6", callId: "c6"), h.StackEndPoint);
        await EventuallyAsync(() => h.Requests.Count == 2, "both requests reach the TU");
        var cancel = h.Requests.Last();
        Assert.Equal("CANCEL", cancel.Request.Method);
        var invite = h.Layer.FindInviteFor(cancel.Request);
        Assert.NotNull(invite);
        Assert.Same(h.Requests.First(), invite);
        Assert.Null(h.Layer.FindInviteFor(Assert.IsType<SipRequest>(SipMessageParser.Parse(h.Incoming("CANCEL", "z9hG4bKother", callId: "c6")))));
    }

    [Fact]
    public async Task ResponsesFollowRportAndReceived()
    {
        await using var h = new TransactionHarness(tx => tx.SendResponse(tx.Request.CreateResponse(200, toTag: "st7")));
        // The Via claims another host and port; with rport the response goes back to where the request came from.
        var text = h.Incoming("OPTIONS", "z9hG4bKopt7").Replace($"127.0.0.1:{h.Peer.Port};branch", "192.0.2.200:5999;rport;branch", StringComparison.Ordinal);
        h.Peer.Send(text, h.StackEndPoint);
        var ok = await h.Peer.ReceiveResponseAsync(200);
        var via = ok.TopVia;
        Assert.Equal("127.0.0.1", via.Received);
        Assert.Equal(h.Peer.Port, via.Rport);
    }

    [Fact]
    public async Task AMalformedRequestIsAnswered400ByTheTransportAndAMalformedResponseIsDropped()
    {
        await using var h = new TransactionHarness();
        var bad = h.Incoming("OPTIONS", "z9hG4bKbad").Replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE", StringComparison.Ordinal);
        h.Peer.Send(bad, h.StackEndPoint);
        var response = await h.Peer.ReceiveResponseAsync(400);
        Assert.NotNull(response.To.Tag);
        Assert.Contains("CSeq", response.Headers["Warning"], StringComparison.Ordinal);
        Assert.Empty(h.Requests);

        h.Peer.Send("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\n\r\n", h.StackEndPoint);
        h.Peer.Send("garbage\r\n\r\n", h.StackEndPoint);
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        Assert.Equal(3, h.Transport.Malformed);
    }

    [Fact]
    public async Task AResponseWhoseTopViaIsNotOursIsDropped()
    {
        await using var h = new TransactionHarness();
        h.Peer.Send("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKforeign\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: f\r\nCSeq: 1 INVITE\r\n\r\n", h.StackEndPoint);
        await EventuallyAsync(() => h.Transport.Received == 1, "the datagram arrived");
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Empty(h.Strays);
    }
}
