using System.Collections.Concurrent;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transactions;
using static ActiveCalls.Sip.Tests.Transactions.TransactionHarness;

namespace ActiveCalls.Sip.Tests.Transactions;

public class ClientTransactionTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    private static SipResponse Answer(SipRequest request, int status, string toTag = "peer1") => request.CreateResponse(status, toTag: toTag);

    [Fact]
    public async Task AnUnansweredInviteIsRetransmittedAtDoublingIntervalsThenTimesOutAs408()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        var invite = h.Outgoing("INVITE");
        var tx = h.Layer.SendRequest(invite, h.Peer.EndPoint, (_, r) => responses.Enqueue(r));

        await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(1, h.Layer.ActiveCount);
        // Timer A: T1, then 2·T1, 4·T1 … after the first send.
        foreach (var ms in new[] { 500, 1000, 2000, 4000 })
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(ms - 1));
            Assert.True(await h.Peer.QuietForAsync(Quiet), $"nothing before {ms} ms");
            h.Time.Advance(TimeSpan.FromMilliseconds(1));
            var again = await h.Peer.ReceiveRequestAsync("INVITE");
            Assert.Equal(invite.TopVia.Branch, again.TopVia.Branch);
        }

        h.Time.Advance(TimeSpan.FromSeconds(32) - TimeSpan.FromMilliseconds(7500)); // Timer B = 64·T1 from the start
        await EventuallyAsync(() => !responses.IsEmpty, "Timer B reports a timeout");
        var timeout = Assert.Single(responses);
        Assert.Equal(408, timeout.StatusCode);
        Assert.True(timeout.IsLocal);
        Assert.Equal(408, (await tx.FinalResponse).StatusCode);
        Assert.Equal(0, h.Layer.ActiveCount);
    }

    [Fact]
    public async Task AProvisionalResponseStopsRetransmissionsAndTimerB()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        var invite = h.Outgoing("INVITE");
        h.Layer.SendRequest(invite, h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Peer.Send(Answer(received, 180), h.StackEndPoint);
        await EventuallyAsync(() => responses.Count == 1, "the 180 is delivered");

        h.Time.Advance(TimeSpan.FromSeconds(40));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        Assert.Single(responses);
        Assert.Equal(1, h.Layer.ActiveCount); // waiting in Proceeding for the final response
    }

    [Fact]
    public async Task ANonSuccessFinalIsAckedInTheTransactionAndItsRetransmissionsAreAckedAgainButDeliveredOnce()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        var invite = h.Outgoing("INVITE");
        invite.Headers.Add("Route", "<sip:127.0.0.1;lr>");
        h.Layer.SendRequest(invite, h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");

        var busy = Answer(received, 486, "busy1");
        h.Peer.Send(busy, h.StackEndPoint);
        var ack = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(invite.TopVia.Branch, ack.TopVia.Branch);
        Assert.Equal("busy1", ack.To.Tag);
        Assert.Equal(new CSeqHeader(1, "ACK"), ack.CSeq);
        Assert.Equal(invite.RequestUri.ToString(), ack.RequestUri.ToString());
        Assert.Equal(invite.CallId, ack.CallId);
        Assert.Single(ack.Routes);

        h.Peer.Send(busy, h.StackEndPoint);
        await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(486, Assert.Single(responses).StatusCode);

        Assert.Equal(1, h.Layer.ActiveCount);
        h.Time.Advance(h.Timers.TimerD);
        await EventuallyAsync(() => h.Layer.ActiveCount == 0, "Timer D ends the transaction");
    }

    [Fact]
    public async Task A2xxEndsTheInviteTransactionAndItsRetransmissionGoesToTheTransactionUser()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        h.Layer.SendRequest(h.Outgoing("INVITE"), h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        var ok = Answer(received, 200);
        h.Peer.Send(ok, h.StackEndPoint);
        await EventuallyAsync(() => responses.Count == 1, "the 200 is delivered");
        Assert.Equal(0, h.Layer.ActiveCount);
        Assert.True(await h.Peer.QuietForAsync(Quiet)); // the transaction does not ACK a 2xx

        h.Peer.Send(ok, h.StackEndPoint);
        await EventuallyAsync(() => h.Strays.Count == 1, "the retransmitted 200 reaches the TU");
    }

    [Fact]
    public async Task ANonInviteRequestRetransmitsUpToT2AndStopsOnTheFinalResponse()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        h.Layer.SendRequest(h.Outgoing("BYE"), h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        var bye = await h.Peer.ReceiveRequestAsync("BYE");
        // Timer E: 500, 1000, 2000, 4000, 4000 (capped at T2)
        foreach (var ms in new[] { 500, 1000, 2000, 4000, 4000 })
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(ms - 1));
            Assert.True(await h.Peer.QuietForAsync(Quiet), $"nothing before {ms} ms");
            h.Time.Advance(TimeSpan.FromMilliseconds(1));
            await h.Peer.ReceiveRequestAsync("BYE");
        }
        h.Peer.Send(Answer(bye, 200), h.StackEndPoint);
        await EventuallyAsync(() => responses.Count == 1, "the 200 is delivered");
        h.Time.Advance(TimeSpan.FromSeconds(8));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
    }

    [Fact]
    public async Task ANonInviteFinalResponseIsDeliveredOnceAndTimerKEndsTheTransaction()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        h.Layer.SendRequest(h.Outgoing("OPTIONS"), h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        var options = await h.Peer.ReceiveRequestAsync("OPTIONS");
        h.Peer.Send(Answer(options, 100), h.StackEndPoint);
        await EventuallyAsync(() => responses.Count == 1, "the 100 is delivered");
        // In Proceeding the retransmit interval is T2.
        h.Time.Advance(TimeSpan.FromMilliseconds(500));
        await h.Peer.ReceiveRequestAsync("OPTIONS");
        h.Time.Advance(TimeSpan.FromMilliseconds(3999));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        await h.Peer.ReceiveRequestAsync("OPTIONS");

        var ok = Answer(options, 200);
        h.Peer.Send(ok, h.StackEndPoint);
        h.Peer.Send(ok, h.StackEndPoint);
        await EventuallyAsync(() => responses.Count == 2, "the 200 is delivered");
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.Equal([100, 200], responses.Select(r => r.StatusCode));
        h.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        Assert.Equal(0, h.Layer.ActiveCount); // Timer K = T4 has run
    }

    [Fact]
    public async Task AnUnansweredNonInviteRequestTimesOutAs408AfterTimerF()
    {
        await using var h = new TransactionHarness();
        var responses = new ConcurrentQueue<SipResponse>();
        h.Layer.SendRequest(h.Outgoing("BYE"), h.Peer.EndPoint, (_, r) => responses.Enqueue(r));
        await h.Peer.ReceiveRequestAsync("BYE");
        h.Time.Advance(TimeSpan.FromSeconds(32));
        await EventuallyAsync(() => responses.Count == 1, "Timer F fires");
        Assert.Equal(408, Assert.Single(responses).StatusCode);
        Assert.Equal(0, h.Layer.ActiveCount);
    }

    [Fact]
    public async Task AResponseIsMatchedByBranchAndCSeqMethodSoACancelsResponseIsNotTheInvites()
    {
        await using var h = new TransactionHarness();
        var inviteResponses = new ConcurrentQueue<SipResponse>();
        var cancelResponses = new ConcurrentQueue<SipResponse>();
        var invite = h.Outgoing("INVITE");
        h.Layer.SendRequest(invite, h.Peer.EndPoint, (_, r) => inviteResponses.Enqueue(r));
        var receivedInvite = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Peer.Send(Answer(receivedInvite, 180), h.StackEndPoint);
        await EventuallyAsync(() => inviteResponses.Count == 1, "180");

        var cancel = h.Outgoing("CANCEL", invite.TopVia.Branch);
        cancel.CallId = invite.CallId;
        h.Layer.SendRequest(cancel, h.Peer.EndPoint, (_, r) => cancelResponses.Enqueue(r));
        var receivedCancel = await h.Peer.ReceiveRequestAsync("CANCEL");
        h.Peer.Send(Answer(receivedCancel, 200), h.StackEndPoint);
        await EventuallyAsync(() => cancelResponses.Count == 1, "the CANCEL's 200");
        Assert.Single(inviteResponses);
        h.Peer.Send(Answer(receivedInvite, 487), h.StackEndPoint);
        await EventuallyAsync(() => inviteResponses.Count == 2, "the 487");
        Assert.Equal(487, inviteResponses.Last().StatusCode);
    }
}
