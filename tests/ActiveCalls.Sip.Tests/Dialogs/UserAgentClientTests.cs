using System.Text;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using static ActiveCalls.Sip.Tests.Transactions.TransactionHarness;

namespace ActiveCalls.Sip.Tests.Dialogs;

public class UserAgentClientTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    [Fact]
    public async Task AnInviteWithoutSdpIsAnsweredWithAnOfferAndAckedWithTheAnswerLater()
    {
        await using var h = new UaHarness();
        var invite = await h.InviteAsync();
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(invite.CallId, received.CallId);
        Assert.Equal(invite.LocalTag, received.From.Tag);
        Assert.Equal("Call Setup", received.From.DisplayName);
        Assert.Null(received.To.Tag);
        Assert.Equal(new CSeqHeader(1, "INVITE"), received.CSeq);
        Assert.Empty(received.Body);
        Assert.True(received.TopVia.HasRport);
        Assert.Equal(h.Ua.LocalEndPoint.Port, Assert.Single(received.Contacts).Uri.Port);

        h.Send(h.Reply(received, 180));
        await h.Events.WaitForAsync("provisional 180");
        Assert.Equal("peertag", invite.EarlyRemoteTag);

        var ok = h.Reply(received, 200, sdp: UaHarness.PeerSdp, recordRoutes: ["<sip:127.0.0.1:" + h.Peer.Port + ";lr;p=1>", "<sip:127.0.0.1:" + h.Peer.Port + ";lr;p=2>"]);
        h.Send(ok);
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        Assert.Equal(DialogState.Confirmed, dialog.State);
        Assert.Equal("peertag", dialog.RemoteTag);
        Assert.Equal(["2", "1"], dialog.RouteSet.Select(r => r.Uri.Parameters["p"]));
        Assert.Equal(UaHarness.PeerSdp, Encoding.UTF8.GetString(dialog.RemoteSdp!));
        Assert.Equal(1, h.Ua.DialogCount);

        // Not ACKed until the transaction user has the answer (RFC 3725 Flow I): a retransmitted 200 gets nothing.
        h.Send(ok);
        Assert.True(await h.Peer.QuietForAsync(Quiet));

        var answer = Encoding.UTF8.GetBytes("v=0\r\no=other 2 2 IN IP4 127.0.0.1\r\n");
        await dialog.SendAckAsync(answer, Sdp.ContentType, TestContext.Current.CancellationToken);
        var ack = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(new CSeqHeader(1, "ACK"), ack.CSeq);
        Assert.Equal($"sip:bob@127.0.0.1:{h.Peer.Port}", ack.RequestUri.ToString());
        Assert.Equal(["2", "1"], ack.Routes.Select(r => r.Uri.Parameters["p"]));
        Assert.Equal("peertag", ack.To.Tag);
        Assert.Equal(answer, ack.Body);
        Assert.NotEqual(received.TopVia.Branch, ack.TopVia.Branch);

        h.Send(ok); // now a retransmitted 200 is ACKed again, with the same ACK
        var again = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(ack.TopVia.Branch, again.TopVia.Branch);
        Assert.Equal(0, h.Ua.TransactionCount);
    }

    [Fact]
    public async Task AProxyChallengeIsAnsweredOnceWithDigestCredentialsInANewTransaction()
    {
        await using var h = new UaHarness(o => o.Domains["127.0.0.1"] = new SipDomainOptions { Username = "setup", Password = "s3cret" });
        var invite = await h.InviteAsync(Encoding.UTF8.GetBytes(UaHarness.PeerSdp));
        var first = await h.Peer.ReceiveRequestAsync("INVITE");
        var challenge = first.CreateResponse(407, toTag: "auth1");
        challenge.Headers.Add("Proxy-Authenticate", "Digest realm=\"pbx.test\", nonce=\"abc123\", opaque=\"op\", qop=\"auth,auth-int\", algorithm=MD5");
        h.Send(challenge);

        var ack = await h.Peer.ReceiveRequestAsync("ACK"); // the 407 is ACKed by its transaction
        Assert.Equal(first.TopVia.Branch, ack.TopVia.Branch);
        var second = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(first.CallId, second.CallId);
        Assert.Equal(first.From.Tag, second.From.Tag);
        Assert.Equal(2, second.CSeq.Number);
        Assert.NotEqual(first.TopVia.Branch, second.TopVia.Branch);
        Assert.Equal(first.Body, second.Body);
        var p = DigestChallenge.ParseParams(second.Headers["Proxy-Authorization"]!["Digest".Length..]);
        Assert.Equal(("setup", "pbx.test", "abc123", "op", "auth", "00000001"), (p["username"], p["realm"], p["nonce"], p["opaque"], p["qop"], p["nc"]));
        Assert.Equal(second.RequestUri.ToString(), p["uri"]);
        Assert.Equal(Md5($"{Md5("setup:pbx.test:s3cret")}:abc123:00000001:{p["cnonce"]}:auth:{Md5("INVITE:" + p["uri"])}"), p["response"]);
        Assert.Equal(second.Branch(), invite.Branch);
        Assert.Empty(h.Events.Log); // the challenge is not the observer's business

        h.Send(h.Reply(second, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        await h.Events.Dialog!.SendAckAsync(null, null, TestContext.Current.CancellationToken);
        var ack2 = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(2, ack2.CSeq.Number);
        Assert.Equal(second.Headers["Proxy-Authorization"], ack2.Headers["Proxy-Authorization"]);
    }

    [Fact]
    public async Task AChallengeWithoutConfiguredCredentialsFailsTheInvite()
    {
        await using var h = new UaHarness();
        await h.InviteAsync();
        var first = await h.Peer.ReceiveRequestAsync("INVITE");
        var challenge = first.CreateResponse(401, toTag: "auth1");
        challenge.Headers.Add("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n\"");
        h.Send(challenge);
        await h.Events.WaitForAsync("failed 401");
        Assert.Equal(0, h.Ua.InviteCount);
    }

    [Fact]
    public async Task ACancelWaitsForAProvisionalResponseThenEndsTheInviteWith487()
    {
        await using var h = new UaHarness();
        var invite = await h.InviteAsync();
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.True(invite.Cancel());
        Assert.True(await h.Peer.QuietForAsync(Quiet)); // RFC 3261 §9.1: no CANCEL before a provisional response

        h.Send(h.Reply(received, 180));
        var cancel = await h.Peer.ReceiveRequestAsync("CANCEL");
        Assert.Equal(received.TopVia.Branch, cancel.TopVia.Branch);
        Assert.Equal(new CSeqHeader(1, "CANCEL"), cancel.CSeq);
        Assert.Null(cancel.To.Tag);
        Assert.Equal(received.RequestUri.ToString(), cancel.RequestUri.ToString());
        h.Send(cancel.CreateResponse(200, toTag: "peertag"));
        h.Send(h.Reply(received, 487));
        await h.Peer.ReceiveRequestAsync("ACK");
        await h.Events.WaitForAsync("failed 487");
        Assert.False(invite.Cancel());
        Assert.Equal(0, h.Ua.InviteCount);
        Assert.Equal(0, h.Ua.DialogCount);
    }

    [Fact]
    public async Task ByeInBothDirections()
    {
        await using var h = new UaHarness();
        await h.InviteAsync(Encoding.UTF8.GetBytes(UaHarness.PeerSdp));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        await dialog.SendAckAsync(null, null, TestContext.Current.CancellationToken);
        await h.Peer.ReceiveRequestAsync("ACK");

        var byeTask = dialog.ByeAsync(TestContext.Current.CancellationToken);
        var bye = await h.Peer.ReceiveRequestAsync("BYE");
        Assert.Equal(2, bye.CSeq.Number);
        Assert.Equal("peertag", bye.To.Tag);
        Assert.Equal(dialog.LocalTag, bye.From.Tag);
        Assert.Equal(DialogState.Terminated, dialog.State);
        Assert.Equal(0, h.Ua.DialogCount);
        h.Send(bye.CreateResponse(200));
        Assert.Equal(200, (await byeTask).StatusCode);
    }

    [Fact]
    public async Task AByeFromThePeerIsAnswered200AndReported()
    {
        await using var h = new UaHarness();
        await h.InviteAsync();
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;

        h.Send(h.InDialog(dialog, "BYE", 5));
        await h.Peer.ReceiveResponseAsync(200);
        await h.Events.WaitForAsync("bye");
        Assert.Equal(0, h.Ua.DialogCount);

        h.Send(h.InDialog(dialog, "BYE", 6)); // a new BYE on the gone dialog
        await h.Peer.ReceiveResponseAsync(481);
    }

    [Fact]
    public async Task AReInviteIsAnsweredWithOurSdpAndThe200IsRetransmittedUntilTheAck()
    {
        await using var h = new UaHarness();
        var offer = Encoding.UTF8.GetBytes(UaHarness.PeerSdp.Replace("peer", "us", StringComparison.Ordinal));
        await h.InviteAsync(offer);
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        await dialog.SendAckAsync(null, null, TestContext.Current.CancellationToken);
        await h.Peer.ReceiveRequestAsync("ACK");

        var reinvite = h.InDialog(dialog, "INVITE", 2, sdp: UaHarness.PeerSdp.Replace("40000", "40002", StringComparison.Ordinal));
        h.Send(reinvite);
        await h.Peer.ReceiveResponseAsync(100);
        var ok = await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(offer, ok.Body);
        Assert.Single(ok.Contacts);
        await h.Events.WaitForAsync("reinvited");

        // Retransmitted while no ACK came. The retransmission timer is armed by the send, which may land just after
        // this thread sees the 200, so fake time is advanced until it fires rather than once.
        SipResponse? retransmitted = null;
        for (var i = 0; retransmitted is null && i < 4; i++)
        {
            h.Time.Advance(h.Options.T1);
            try { retransmitted = await h.Peer.ReceiveResponseAsync(200, TimeSpan.FromMilliseconds(500)); }
            catch (TimeoutException) { }
        }
        Assert.NotNull(retransmitted);
        var ack = h.InDialog(dialog, "ACK", 2);
        h.Send(ack);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        h.Time.Advance(h.Options.T2);
        Assert.True(await h.Peer.QuietForAsync(Quiet));
        Assert.Equal(0, dialog.Pending2xxCount);
    }

    [Fact]
    public async Task AReInviteWaitsForTheObserversAnswerOrRefusal()
    {
        await using var h = new UaHarness();
        await h.InviteAsync(Encoding.UTF8.GetBytes(UaHarness.PeerSdp));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        await dialog.SendAckAsync(null, null, TestContext.Current.CancellationToken);
        await h.Peer.ReceiveRequestAsync("ACK");

        var relayed = new TaskCompletionSource<ReInviteAnswer>();
        h.Events.ReInviteAnswer = _ => relayed.Task;
        h.Send(h.InDialog(dialog, "INVITE", 2, sdp: UaHarness.PeerSdp + "a=sendonly\r\n"));
        await h.Peer.ReceiveResponseAsync(100);
        Assert.True(await h.Peer.QuietForAsync(Quiet)); // nothing until the observer answers
        var answer = Encoding.UTF8.GetBytes("v=0\r\no=other 5 5 IN IP4 127.0.0.1\r\na=recvonly\r\n");
        relayed.SetResult(ReInviteAnswer.Answer(answer));
        var ok = await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(answer, ok.Body);
        Assert.Equal(answer, dialog.LocalSdp);
        h.Send(h.InDialog(dialog, "ACK", 2));

        h.Events.ReInviteAnswer = _ => Task.FromResult(ReInviteAnswer.Reject(488));
        h.Send(h.InDialog(dialog, "INVITE", 3, sdp: UaHarness.PeerSdp));
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(488);
        Assert.Equal(answer, dialog.LocalSdp); // a refused offer changes nothing
    }

    [Fact]
    public async Task AReInviteDuringOurOwnIsRefused491()
    {
        await using var h = new UaHarness();
        await h.InviteAsync(Encoding.UTF8.GetBytes(UaHarness.PeerSdp));
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        await dialog.SendAckAsync(null, null, TestContext.Current.CancellationToken);
        await h.Peer.ReceiveRequestAsync("ACK");

        var ours = dialog.ReInviteAsync(Encoding.UTF8.GetBytes(UaHarness.PeerSdp), Sdp.ContentType, TestContext.Current.CancellationToken);
        var ourReinvite = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.InDialog(dialog, "INVITE", 7, sdp: UaHarness.PeerSdp));
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(491);

        h.Send(h.Reply(ourReinvite, 200, sdp: UaHarness.PeerSdp));
        var ack = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(ourReinvite.CSeq.Number, ack.CSeq.Number);
        Assert.Equal(200, (await ours).StatusCode);
    }

    [Fact]
    public async Task UnsolicitedRequestsOutsideDialogsAreRefusedOrAnswered()
    {
        await using var h = new UaHarness(o => o.UnsolicitedInviteStatus = 488);
        string Req(string method, string tag = "") =>
            $"{method} sip:call-setup@127.0.0.1:{h.Ua.LocalEndPoint.Port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{h.Peer.Port};branch=z9hG4bK{method}{tag}\r\n" +
            $"From: <sip:x@127.0.0.1>;tag=x1\r\nTo: <sip:call-setup@127.0.0.1>{(tag.Length > 0 ? ";tag=" + tag : "")}\r\nCall-ID: u-{method}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\r\n";
        h.Peer.Send(Req("INVITE"), h.Ua.LocalEndPoint);
        await h.Peer.ReceiveResponseAsync(100);
        await h.Peer.ReceiveResponseAsync(488);
        h.Peer.Send(Req("OPTIONS"), h.Ua.LocalEndPoint);
        var options = await h.Peer.ReceiveResponseAsync(200);
        Assert.Contains("INVITE", options.Headers["Allow"], StringComparison.Ordinal);
        h.Peer.Send(Req("BYE", "nosuch"), h.Ua.LocalEndPoint);
        await h.Peer.ReceiveResponseAsync(481);
        h.Peer.Send(Req("SUBSCRIBE"), h.Ua.LocalEndPoint);
        await h.Peer.ReceiveResponseAsync(405);
        h.Peer.Send(Req("CANCEL"), h.Ua.LocalEndPoint);
        await h.Peer.ReceiveResponseAsync(481);
    }

    [Fact]
    public async Task ASecond2xxFromAnotherBranchIsAckedAndHungUp()
    {
        await using var h = new UaHarness();
        await h.InviteAsync();
        var received = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(h.Reply(received, 200, "branch1", UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        h.Send(h.Reply(received, 200, "branch2", UaHarness.PeerSdp));
        var ack = await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal("branch2", ack.To.Tag);
        Assert.Contains("m=audio 0 ", ack.BodyText, StringComparison.Ordinal); // the offer in that 2xx is declined
        var bye = await h.Peer.ReceiveRequestAsync("BYE");
        Assert.Equal("branch2", bye.To.Tag);
        Assert.Single(h.Events.Log, e => e.StartsWith("answered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ANeverAnsweredInviteTimesOutAs408AndLeavesNothingBehind()
    {
        await using var h = new UaHarness();
        await h.InviteAsync();
        await h.Peer.ReceiveRequestAsync("INVITE");
        h.Time.Advance(h.Options.T1 * 64);
        await h.Events.WaitForAsync("failed 408 local");
        await EventuallyAsync(() => h.Ua.TransactionCount == 0 && h.Ua.InviteCount == 0 && h.Ua.DialogCount == 0, "nothing left");
    }

    private static string Md5(string s) =>
#pragma warning disable CA5351
        Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(s)));
#pragma warning restore CA5351
}

internal static class RequestExtensions
{
    public static string Branch(this SipRequest r) => r.TopVia.Branch!;
}
