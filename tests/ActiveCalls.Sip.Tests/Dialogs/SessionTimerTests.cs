using System.Text;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Tests.Dialogs;

/// <summary>RFC 4028 session timers in the UA core, against a scripted peer with fake time.</summary>
public class SessionTimerTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);
    private static readonly byte[] OurOffer = Encoding.UTF8.GetBytes(UaHarness.PeerSdp.Replace("peer", "us", StringComparison.Ordinal));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The header lines of <paramref name="message"/> as sent (its wire text), for the ones named.</summary>
    private static string[] Lines(SipMessage message, params string[] names) =>
        message.ToString().Split("\r\n").Where(l => names.Any(n => l.StartsWith(n + ":", StringComparison.OrdinalIgnoreCase))).ToArray();

    /// <summary>INVITE with our offer, the peer's 200 with <paramref name="okHeaders"/> (name, value), our ACK.</summary>
    private static async Task<(SipDialog Dialog, SipRequest Invite)> EstablishAsync(UaHarness h, params (string Name, string Value)[] okHeaders)
    {
        await h.InviteAsync(OurOffer);
        var invite = await h.Peer.ReceiveRequestAsync("INVITE");
        var ok = h.Reply(invite, 200, sdp: UaHarness.PeerSdp);
        foreach (var (name, value) in okHeaders) ok.Headers.Add(name, value);
        h.Send(ok);
        await h.Events.WaitForAsync("answered 200");
        var dialog = h.Events.Dialog!;
        await dialog.SendAckAsync(null, null, Ct);
        await h.Peer.ReceiveRequestAsync("ACK");
        return (dialog, invite);
    }

    /// <summary>Advances fake time to just before <paramref name="due"/> (nothing is sent), then to it.</summary>
    private static async Task AdvanceToAsync(UaHarness h, TimeSpan due)
    {
        h.Time.Advance(due - TimeSpan.FromSeconds(1));
        Assert.True(await h.Peer.QuietForAsync(Quiet), $"nothing before {due}");
        h.Time.Advance(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task TheInitialInviteOffersSessionTimersAsItsRefresher()
    {
        await using var h = new UaHarness();
        await h.InviteAsync();
        var invite = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(["Supported: timer", "Session-Expires: 1800;refresher=uac", "Min-SE: 90"], Lines(invite, "Supported", "Session-Expires", "Min-SE"));
        Assert.Contains("UPDATE", invite.Headers["Allow"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisabledTimersAddNoHeadersAndScheduleNothing()
    {
        await using var h = new UaHarness(o => o.SessionTimers.Enabled = false);
        await h.InviteAsync(OurOffer);
        var invite = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Empty(Lines(invite, "Supported", "Session-Expires", "Min-SE"));
        h.Send(h.Reply(invite, 200, sdp: UaHarness.PeerSdp));
        await h.Events.WaitForAsync("answered 200");
        await h.Events.Dialog!.SendAckAsync(null, null, Ct);
        await h.Peer.ReceiveRequestAsync("ACK");
        Assert.Equal(0, h.Ua.SessionTimerCount);
        h.Time.Advance(TimeSpan.FromHours(2));
        Assert.True(await h.Peer.QuietForAsync(Quiet));
    }

    [Fact]
    public async Task A422IsRetriedWithItsMinSEInANewTransactionOfTheSameDialog()
    {
        await using var h = new UaHarness();
        await h.InviteAsync(OurOffer);
        var first = await h.Peer.ReceiveRequestAsync("INVITE");
        var tooSmall = first.CreateResponse(422, "Session Interval Too Small", toTag: "t422");
        tooSmall.Headers.Add("Min-SE", "3600");
        h.Send(tooSmall);

        var ack = await h.Peer.ReceiveRequestAsync("ACK"); // the 422 is ACKed by its transaction
        Assert.Equal(first.TopVia.Branch, ack.TopVia.Branch);
        var second = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal((first.CallId, first.From.Tag, 2L), (second.CallId, second.From.Tag, second.CSeq.Number));
        Assert.NotEqual(first.TopVia.Branch, second.TopVia.Branch);
        Assert.Equal(["Supported: timer", "Session-Expires: 3600;refresher=uac", "Min-SE: 3600"], Lines(second, "Supported", "Session-Expires", "Min-SE"));
        Assert.Equal(first.Body, second.Body);
        Assert.Empty(h.Events.Log); // not the observer's business

        var ok = h.Reply(second, 200, sdp: UaHarness.PeerSdp);
        ok.Headers.Add("Session-Expires", "3600;refresher=uac");
        h.Send(ok);
        await h.Events.WaitForAsync("answered 200");
        Assert.Equal(3600, h.Events.Dialog!.SessionInterval);
    }

    [Fact]
    public async Task TheRefresherReInvitesWithItsUnchangedSdpAtHalfTheIntervalAndA2xxRestartsTheClock()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "120;refresher=uac"), ("Require", "timer"));
        Assert.Equal((120, true), (dialog.SessionInterval, dialog.WeRefresh));
        Assert.Equal(1, h.Ua.SessionTimerCount);

        await AdvanceToAsync(h, TimeSpan.FromSeconds(60));
        var refresh = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(2, refresh.CSeq.Number);
        Assert.Equal("peertag", refresh.To.Tag);
        Assert.Equal(OurOffer, refresh.Body); // the session as it is, version unchanged
        Assert.Equal(["Supported: timer", "Session-Expires: 120;refresher=uac", "Min-SE: 90"], Lines(refresh, "Supported", "Session-Expires", "Min-SE"));
        var ok = h.Reply(refresh, 200, sdp: UaHarness.PeerSdp);
        ok.Headers.Add("Session-Expires", "100;refresher=uac"); // the UAS lowered it
        h.Send(ok);
        Assert.Equal(2, (await h.Peer.ReceiveRequestAsync("ACK")).CSeq.Number);

        await AdvanceToAsync(h, TimeSpan.FromSeconds(50)); // half the new interval, counted from that 2xx
        var second = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(3, second.CSeq.Number);
        Assert.Equal("100;refresher=uac", second.Headers["Session-Expires"]);
    }

    [Fact]
    public async Task WithUpdateAllowedTheRefreshIsABodilessUpdate()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "90;refresher=uac"), ("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE"));

        await AdvanceToAsync(h, TimeSpan.FromSeconds(45));
        var update = await h.Peer.ReceiveRequestAsync("UPDATE");
        Assert.Empty(update.Body);
        Assert.Null(update.ContentType);
        Assert.Equal(["Supported: timer", "Session-Expires: 90;refresher=uac", "Min-SE: 90"], Lines(update, "Supported", "Session-Expires", "Min-SE"));
        var ok = update.CreateResponse(200);
        ok.Headers.Add("Session-Expires", "90;refresher=uac");
        h.Send(ok);
        await Task.Delay(50, Ct);

        await AdvanceToAsync(h, TimeSpan.FromSeconds(45));
        Assert.Equal(3, (await h.Peer.ReceiveRequestAsync("UPDATE")).CSeq.Number);
        Assert.Equal(DialogState.Confirmed, dialog.State);
    }

    [Fact]
    public async Task A2xxWithoutSessionExpiresLeavesUsRefreshingWithTheIntervalWeAskedFor()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h);
        Assert.Equal((1800, true), (dialog.SessionInterval, dialog.WeRefresh));
        await AdvanceToAsync(h, TimeSpan.FromSeconds(900));
        await h.Peer.ReceiveRequestAsync("INVITE");
    }

    [Theory]
    [InlineData(408)]
    [InlineData(481)]
    [InlineData(500)]
    public async Task ARefreshAnsweredWithAFailureEndsTheDialogWithBye(int status)
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "90;refresher=uac"));
        await AdvanceToAsync(h, TimeSpan.FromSeconds(45));
        var refresh = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(refresh.CreateResponse(status));
        await h.Peer.ReceiveRequestAsync("ACK"); // of the non-2xx, by the transaction

        var bye = await h.Peer.ReceiveRequestAsync("BYE");
        Assert.Equal(3, bye.CSeq.Number);
        await h.Events.WaitForAsync("lost");
        Assert.Equal(DialogState.Terminated, dialog.State);
        h.Send(bye.CreateResponse(200));
        Assert.Equal(0, h.Ua.SessionTimerCount);
    }

    [Fact]
    public async Task AnUnansweredRefreshEndsTheDialogWithBye()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "90;refresher=uac"));
        await AdvanceToAsync(h, TimeSpan.FromSeconds(45));
        await h.Peer.ReceiveRequestAsync("INVITE");
        // Timer B: 64·T1 without a response; the retransmissions are drained as time goes by.
        for (int i = 0; i < 70 && dialog.State != DialogState.Terminated; i++)
        {
            h.Time.Advance(h.Options.T1);
            await Task.Delay(5, Ct);
        }
        SipRequest? bye = null;
        for (int i = 0; i < 20 && bye is null; i++)
        {
            var (message, _) = await h.Peer.ReceiveAsync();
            if (message is SipRequest { Method: "BYE" } r) bye = r;
        }
        Assert.NotNull(bye);
        await h.Events.WaitForAsync("lost");
        Assert.Equal(0, h.Ua.SessionTimerCount);
    }

    [Fact]
    public async Task A491IsRetriedAfterTwoToFourSeconds()
    {
        await using var h = new UaHarness();
        await EstablishAsync(h, ("Session-Expires", "90;refresher=uac"));
        await AdvanceToAsync(h, TimeSpan.FromSeconds(45));
        var refresh = await h.Peer.ReceiveRequestAsync("INVITE");
        h.Send(refresh.CreateResponse(491));
        await h.Peer.ReceiveRequestAsync("ACK");
        await Task.Delay(50, Ct);

        h.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await h.Peer.QuietForAsync(Quiet)); // RFC 3261 §14.1: 2.1–4 s for the Call-ID's owner
        h.Time.Advance(TimeSpan.FromSeconds(2));
        var again = await h.Peer.ReceiveRequestAsync("INVITE");
        Assert.Equal(refresh.CSeq.Number + 1, again.CSeq.Number);
        Assert.DoesNotContain("lost", h.Events.Log);
    }

    [Fact]
    public async Task WhenThePeerRefreshesAMissedRefreshEndsTheDialogBeforeTheSessionExpires()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "90;refresher=uas"), ("Require", "timer"));
        Assert.Equal((90, false), (dialog.SessionInterval, dialog.WeRefresh));

        // The peer refreshes by UPDATE at 40 s: answered 200 with its Session-Expires echoed, the clock restarts.
        h.Time.Advance(TimeSpan.FromSeconds(40));
        var update = h.InDialog(dialog, "UPDATE", 2);
        update.Headers.Add("Session-Expires", "90;refresher=uac");
        update.Headers.Add("Require", "timer"); // understood: no 420
        h.Send(update);
        var ok = await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(["Session-Expires: 90;refresher=uac", "Require: timer"], Lines(ok, "Session-Expires", "Require"));
        Assert.Empty(ok.Body);
        await Task.Delay(50, Ct);

        // Then nothing: BYE at 90 − min(32, 90/3) = 60 s after that refresh (RFC 4028 §10).
        await AdvanceToAsync(h, TimeSpan.FromSeconds(60));
        var bye = await h.Peer.ReceiveRequestAsync("BYE");
        Assert.Equal(2, bye.CSeq.Number);
        await h.Events.WaitForAsync("lost");
    }

    [Fact]
    public async Task ARefreshReInviteFromThePeerIsAnsweredWithTheCurrentSessionWithoutBotheringTheObserver()
    {
        await using var h = new UaHarness();
        var (dialog, _) = await EstablishAsync(h, ("Session-Expires", "90;refresher=uas"));

        var tooShort = h.InDialog(dialog, "INVITE", 2, sdp: UaHarness.PeerSdp);
        tooShort.Headers.Add("Session-Expires", "30;refresher=uac");
        h.Send(tooShort);
        await h.Peer.ReceiveResponseAsync(100);
        var refused = await h.Peer.ReceiveResponseAsync(422);
        Assert.Equal(["Min-SE: 90"], Lines(refused, "Min-SE"));
        h.Send(h.InDialog(dialog, "ACK", 2, branch: tooShort.TopVia.Branch!)); // ends the 422's transaction

        var refresh = h.InDialog(dialog, "INVITE", 3, sdp: UaHarness.PeerSdp); // same SDP: a refresh
        refresh.Headers.Add("Session-Expires", "120");
        refresh.Headers.Add("Supported", "timer");
        h.Send(refresh);
        await h.Peer.ReceiveResponseAsync(100);
        var ok = await h.Peer.ReceiveResponseAsync(200);
        // No refresher named: the peer supports timers, so it stays the refresher (RFC 4028 §9).
        Assert.Equal(["Session-Expires: 120;refresher=uac", "Require: timer", "Supported: timer"], Lines(ok, "Session-Expires", "Require", "Supported"));
        Assert.Equal(OurOffer, ok.Body);
        h.Send(h.InDialog(dialog, "ACK", 3));
        await Task.Delay(50, Ct);
        Assert.DoesNotContain("reinvited", h.Events.Log);
        Assert.Equal((120, false), (dialog.SessionInterval, dialog.WeRefresh));

        // A refresh naming us as the refresher hands the job over.
        var handOver = h.InDialog(dialog, "UPDATE", 4);
        handOver.Headers.Add("Session-Expires", "100;refresher=uas");
        h.Send(handOver);
        var ok2 = await h.Peer.ReceiveResponseAsync(200);
        Assert.Equal(["Session-Expires: 100;refresher=uas"], Lines(ok2, "Session-Expires", "Require"));
        await Task.Delay(50, Ct);
        await AdvanceToAsync(h, TimeSpan.FromSeconds(50));
        Assert.Equal("100;refresher=uac", (await h.Peer.ReceiveRequestAsync("INVITE")).Headers["Session-Expires"]);
    }

    [Fact]
    public async Task AThousandEndedDialogsLeaveNoSessionTimer()
    {
        await using var h = new UaHarness();
        for (int i = 0; i < 1000; i++)
        {
            var invite = await h.InviteAsync(OurOffer);
            var received = await h.Peer.ReceiveRequestAsync("INVITE");
            var ok = h.Reply(received, 200, sdp: UaHarness.PeerSdp);
            ok.Headers.Add("Session-Expires", i % 2 == 0 ? "90;refresher=uac" : "90;refresher=uas");
            h.Send(ok);
            SipDialog? dialog = null;
            for (int w = 0; w < 300 && (dialog = invite.Dialog) is null; w++) await Task.Delay(1, Ct);
            Assert.NotNull(dialog);
            await dialog.SendAckAsync(null, null, Ct);
            await h.Peer.ReceiveRequestAsync("ACK");
            Assert.True(dialog.SessionTimerRunning);
            if (i % 2 == 0)
            {
                var bye = dialog.ByeAsync(Ct); // we hang up
                h.Send((await h.Peer.ReceiveRequestAsync("BYE")).CreateResponse(200));
                await bye;
            }
            else
            {
                h.Send(h.InDialog(dialog, "BYE", 2)); // they hang up
                await h.Peer.ReceiveResponseAsync(200);
            }
            Assert.False(dialog.SessionTimerRunning);
        }
        // The 200 to the peer's BYE leaves before the user agent drops the dialog from its table.
        for (int w = 0; w < 500 && h.Ua.DialogCount > 0; w++) await Task.Delay(2, Ct);
        Assert.Equal(0, h.Ua.DialogCount);
        Assert.Equal(0, h.Ua.SessionTimerCount);
        h.Time.Advance(TimeSpan.FromHours(2)); // nothing left to fire: no refresh, no BYE
        Assert.True(await h.Peer.QuietForAsync(Quiet));
    }

    [Theory]
    [InlineData(0, 90)]
    [InlineData(60, 90)]
    [InlineData(1800.5, 90)]
    public void InvalidIntervalsAreRefused(double sessionExpires, double minSE)
    {
        var options = new SipOptions { SessionTimers = { SessionExpires = TimeSpan.FromSeconds(sessionExpires), MinSE = TimeSpan.FromSeconds(minSE) } };
        Assert.NotEmpty(options.Validate());
        Assert.Throws<ArgumentException>(() => new SipUserAgent(options));
        Assert.Empty(new SipOptions().Validate());
    }
}
