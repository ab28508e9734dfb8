using ActiveCalls.Sip.CallControl;
using ActiveCalls.Sip.Tests.Infrastructure;
using Gateway.Testing.Sip;

namespace ActiveCalls.Sip.Tests.EndToEnd;

/// <summary>
/// The engine against real sipp phones running the scenarios in deploy/sipp: what the phones saw comes from sipp's
/// message logs and exit codes, what the engine reported from a recording <see cref="ICallLegObserver"/>.
/// </summary>
public class ThirdPartyCallControlSippTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool Retracted(IReadOnlyList<LegEvent> events, string itemId) => events.Any(e => e.IsRetract && e.Leg.ItemId == itemId);

    [Fact]
    public async Task CreateConnectsTwoAnsweringPhonesInOnSipsEventOrderAndTerminateHangsUpBoth()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob, "abcd1234");
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the setup leg's retract");

        Assert.Equal(
            [
                "requested alice@127.0.0.1",  // setup leg: alice's phone rings
                "confirmed alice@127.0.0.1",  // … she answers
                "created alice@127.0.0.1",    // alice ↔ bob, on alice's node
                "requested bob@127.0.0.1",    // bob's phone rings
                "confirmed alice@127.0.0.1",  // bob answers: alice's leg …
                "confirmed bob@127.0.0.1",    // … and bob's
                "retract alice@127.0.0.1",    // the setup leg goes once they are connected
            ], events.Select(e => e.Short));

        var setup = events[0].Leg;
        Assert.Equal("sip:call-setup@127.0.0.1", setup.FromUri);
        Assert.Equal(alice.Uri, setup.ToUri);
        Assert.Equal("Call Setup", setup.FromDisplay);
        Assert.Equal("abcd1234", setup.CallSetupId);
        Assert.StartsWith("z9hG4bK", setup.Branch, StringComparison.Ordinal);
        Assert.Equal("alice@127.0.0.1", setup.ToAor);
        Assert.Null(setup.ToTag);
        Assert.Equal(setup.ItemId, events[1].Leg.ItemId);
        Assert.NotNull(events[1].Leg.ToTag);
        Assert.Equal(setup.ItemId, events[6].Leg.ItemId);
        Assert.Equal("connected", events[6].End!.Reason);

        var created = events[2].Leg;
        Assert.Equal((alice.Uri, bob.Uri, "abcd1234"), (created.FromUri, created.ToUri, created.CallSetupId));
        Assert.Null(created.Branch);
        Assert.Null(created.ToAor);
        Assert.NotEqual(setup.CallId, created.CallId);
        var callee = events[3].Leg;
        Assert.Equal((created.CallId, created.FromTag, "bob@127.0.0.1"), (callee.CallId, callee.FromTag, callee.ToAor));
        Assert.NotNull(callee.Branch);
        var confirmed = events[4].Leg;
        Assert.Equal(created.ItemId, confirmed.ItemId);
        Assert.NotNull(confirmed.ToTag);
        Assert.Equal(callee.ItemId, events[5].Leg.ItemId);

        // RFC 3725 Flow I on the wire: alice is invited without SDP and gets bob's answer in her ACK.
        var aliceSaw = alice.Messages();
        Assert.Equal("", aliceSaw.First(m => m.Method == "INVITE").Body);
        Assert.Contains("m=audio", aliceSaw.First(m => m.Method == "ACK").Body, StringComparison.Ordinal);
        Assert.Contains($"o=sipp-{bob.Port}", aliceSaw.First(m => m.Method == "ACK").Body, StringComparison.Ordinal);
        Assert.Contains($"o=sipp-{alice.Port}", bob.Messages().First(m => m.Method == "INVITE").Body, StringComparison.Ordinal);

        await h.Engine.TerminateAsync(new DialogId(confirmed.CallId, confirmed.FromTag!, confirmed.ToTag!), Ct);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], alice.Flow());
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], bob.Flow());

        events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "both legs retracted");
        Assert.All(events.Where((_, i) => i >= 7), e => Assert.Equal("terminated", e.End!.Reason));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task ABusyCalleeEndsTheCallAndTheAnsweredCallerIsHungUp()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("busy", "bob");

        await h.CreateAsync(alice, bob);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 486", "> ACK"], bob.Flow());
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], alice.Flow());
        // alice offered in her 200; the ACK that precedes the BYE declines that offer (every stream port 0).
        Assert.Contains("m=audio 0 ", alice.Messages().First(m => m.Method == "ACK").Body, StringComparison.Ordinal);

        var events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.Equal(["requested alice@127.0.0.1", "confirmed alice@127.0.0.1", "created alice@127.0.0.1", "requested bob@127.0.0.1"],
            events.Where(e => !e.IsRetract).Select(e => e.Short));
        Assert.All(events.Where(e => e.IsRetract), e => Assert.Equal(486, e.End!.SipStatus));
        Assert.All(events.Where(e => e.IsRetract), e => Assert.StartsWith("busy", e.End!.Reason, StringComparison.Ordinal));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task ABusyCallerEndsTheSetupLegOnly()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("busy", "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        await alice.AssertSucceededAsync();
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the setup leg's retract");
        Assert.Equal(["requested alice@127.0.0.1", "retract alice@127.0.0.1"], events.Select(e => e.Short));
        Assert.Equal(486, events[1].End!.SipStatus);
        Assert.Empty(bob.Messages());
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task ACalleeThatRingsPastTheRingTimeoutIsCancelledAndTheCallerHungUp()
    {
        await using var h = new EngineHarness(o => o.RingTimeout = TimeSpan.FromSeconds(1.5));
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("ring-forever", "bob");

        await h.CreateAsync(alice, bob);
        await bob.AssertSucceededAsync();
        await alice.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "> CANCEL", "< 200", "< 487", "> ACK"], bob.Flow());
        var events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.All(events.Where(e => e.IsRetract), e => Assert.Equal(("no answer (487 Request Terminated)", 487), (e.End!.Reason, e.End.SipStatus)));
        await h.AssertNothingLeftAsync();
    }

    [Theory]
    [InlineData("challenge-407", "Proxy-Authorization")]
    [InlineData("challenge-401", "Authorization")]
    public async Task AnAuthenticationChallengeIsAnsweredWithTheDomainsCredentials(string scenario, string header)
    {
        await using var h = new EngineHarness(o => o.Domains["127.0.0.1"] = new SipDomainOptions { Username = "call-setup", Password = "s3cret" });
        var alice = await h.PhoneAsync(scenario, "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        Assert.Equal("connected", events[^1].End!.Reason);
        var connection = events[4].Leg;

        await h.Engine.TerminateAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), Ct);
        await alice.AssertSucceededAsync(); // challenge-401: sipp's verifyauth accepted the digest
        await bob.AssertSucceededAsync();
        Assert.Equal(["> INVITE", $"< {scenario[^3..]}", "> ACK", "> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], alice.Flow());

        // The digest in the phone's log is the RFC 2617 qop=auth response for call-setup:sipp.test:s3cret.
        var invite = alice.Messages().Last(m => m.Method == "INVITE").Text;
        var credentials = invite.Split('\n').Select(l => l.TrimEnd('\r')).Single(l => l.StartsWith(header + ": ", StringComparison.Ordinal));
        var p = ActiveCalls.Sip.Dialogs.DigestChallenge.ParseParams(credentials[(header.Length + 2 + "Digest".Length)..]);
        Assert.Equal(("call-setup", "sipp.test", "auth", "00000001"), (p["username"], p["realm"], p["qop"], p["nc"]));
        Assert.Equal(Md5($"{Md5("call-setup:sipp.test:s3cret")}:{p["nonce"]}:{p["nc"]}:{p["cnonce"]}:auth:{Md5("INVITE:" + p["uri"])}"), p["response"]);
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task WrongCredentialsEndTheSetupLegWithThePhonesAnswer()
    {
        await using var h = new EngineHarness(o => o.Domains["127.0.0.1"] = new SipDomainOptions { Username = "call-setup", Password = "wrong" });
        var alice = await h.PhoneAsync("challenge-401", "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the setup leg's retract");
        Assert.Equal(403, events[^1].End!.SipStatus);
        Assert.Equal(1, await alice.WaitForExitAsync()); // the phone's scenario fails on bad credentials
        await h.AssertNothingLeftAsync();
    }

    private static string Md5(string s) =>
#pragma warning disable CA5351 // the digest algorithm the phone chose
        Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(s)));
#pragma warning restore CA5351

    [Fact]
    public async Task ACallerThatNeverRespondsTimesOutAfterTimerB()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("never-respond", "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the setup leg's retract", TimeSpan.FromSeconds(10));
        Assert.Equal(["requested alice@127.0.0.1", "retract alice@127.0.0.1"], events.Select(e => e.Short));
        Assert.Equal(("no response (408 Request Timeout)", 408), (events[1].End!.Reason, events[1].End!.SipStatus));
        // Timer A: the INVITE was retransmitted at T1, 2·T1, 4·T1 … until Timer B (64·T1).
        Assert.InRange(alice.Messages().Count(m => m.Method == "INVITE"), 6, 8);
        Assert.Empty(bob.Messages());
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task CancelStopsACallerThatIsStillRinging()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("ring-forever", "alice");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        var requested = (await h.Observer.WaitForAsync(e => e.Count > 0, "the setup leg"))[0].Leg;
        await Task.Delay(300, Ct); // let the 180 arrive; a CANCEL before any provisional response would wait for one
        await h.Engine.CancelAsync(requested.CallId, requested.FromTag!, Ct);

        await alice.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "> CANCEL", "< 200", "< 487", "> ACK"], alice.Flow());
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the setup leg's retract");
        Assert.Equal("cancelled", events[^1].End!.Reason);
        await Assert.ThrowsAsync<CallControlException>(() => h.Engine.CancelAsync(requested.CallId, requested.FromTag!, Ct));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task WhenTheCalleeHangsUpTheCallerIsHungUpAndEveryLegRetracted()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("answer-hangup", "bob", "-d", "500");

        await h.CreateAsync(alice, bob);
        await bob.AssertSucceededAsync();
        await alice.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "< BYE", "> 200"], bob.Flow());
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], alice.Flow());
        var events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.All(events.Where((_, i) => i >= 7), e => Assert.Equal("hung up", e.End!.Reason));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task APhonesReInviteIsRelayedToTheOtherPhone()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer-hold", "alice", "-d", "300");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        for (int i = 0; i < 250 && !alice.Flow().Contains("< ACK"); i++) await Task.Delay(20, Ct); // until alice ACKed the hold's 200

        // bob got alice's hold offer in a re-INVITE; alice got bob's answer in our 200.
        var bobReInvite = bob.Messages().Where(m => m.Method == "INVITE").Last();
        Assert.Contains("a=sendonly", bobReInvite.Body, StringComparison.Ordinal);
        Assert.Contains($"o=sipp-{alice.Port} 1 2", bobReInvite.Body, StringComparison.Ordinal);
        var aliceOk = alice.Messages().Last(m => m.Status == 200 && !m.Sent);
        Assert.Contains($"o=sipp-{bob.Port} 1 2", aliceOk.Body, StringComparison.Ordinal);
        Assert.Equal(7, events.Count); // a relayed re-INVITE publishes nothing

        var connection = events[4].Leg;
        await h.Engine.TerminateAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), Ct);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "< INVITE", "> 100", "> 200", "< ACK", "> BYE", "< 200"], alice.Flow());
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> INVITE", "< 200", "> ACK", "> BYE", "< 200"], bob.Flow());
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task TransferMovesTheCallerToTheTargetAndHangsUpTheCallee()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("answer", "bob");
        var carol = await h.PhoneAsync("answer", "carol");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        var connection = events[4].Leg;

        await h.Engine.TransferAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), TransferEndpoint.Caller, carol.Uri, Ct);
        await bob.AssertSucceededAsync(); // bob is hung up
        events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3 && e.Count(x => x.Leg.State == LegState.Confirmed && x.Leg.OwnerAddress == "carol@127.0.0.1") == 1, "the transfer");

        var after = events.Where((_, i) => i >= 7).Select(e => e.Short).ToList();
        Assert.Equal(["created alice@127.0.0.1", "requested carol@127.0.0.1", "retract bob@127.0.0.1", "retract alice@127.0.0.1",
            "confirmed alice@127.0.0.1", "confirmed carol@127.0.0.1"], after);
        var moved = events.Last(e => e.Leg.State == LegState.Confirmed && e.Leg.OwnerAddress == "alice@127.0.0.1").Leg;
        Assert.Equal((alice.Uri, carol.Uri), (moved.FromUri, moved.ToUri));

        // alice got a re-INVITE carrying carol's offer; carol got alice's answer in her ACK.
        var reInvite = alice.Messages().Where(m => m.Method == "INVITE").Last();
        Assert.Contains($"o=sipp-{carol.Port}", reInvite.Body, StringComparison.Ordinal);
        Assert.Equal("", carol.Messages().First(m => m.Method == "INVITE").Body);
        Assert.Contains($"o=sipp-{alice.Port}", carol.Messages().First(m => m.Method == "ACK").Body, StringComparison.Ordinal);

        await h.Engine.TerminateAsync(new DialogId(moved.CallId, moved.FromTag!, moved.ToTag!), Ct);
        await alice.AssertSucceededAsync();
        await carol.AssertSucceededAsync();
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task TransferMovesTheCalleeToTheTargetAndHangsUpTheCaller()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("answer", "bob");
        var carol = await h.PhoneAsync("answer", "carol");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        var calleeLeg = events[5].Leg; // bob's own leg: the same dialog identifiers as alice's created leg

        await h.Engine.TransferAsync(new DialogId(calleeLeg.CallId, calleeLeg.FromTag!, calleeLeg.ToTag!), TransferEndpoint.Callee, carol.Uri, Ct);
        await alice.AssertSucceededAsync(); // alice is hung up
        events = await h.Observer.WaitForAsync(e => e.Count(x => x.Leg.State == LegState.Confirmed && x.Leg.OwnerAddress == "carol@127.0.0.1") == 1
                                                    && e.Count(x => x.IsRetract) == 3, "the transfer");
        Assert.Equal(["created bob@127.0.0.1", "requested carol@127.0.0.1", "retract alice@127.0.0.1", "retract bob@127.0.0.1",
            "confirmed bob@127.0.0.1", "confirmed carol@127.0.0.1"], events.Where((_, i) => i >= 7).Select(e => e.Short));
        var moved = events[^2].Leg;
        Assert.Equal((bob.Uri, carol.Uri), (moved.FromUri, moved.ToUri));
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> INVITE", "< 200", "> ACK"], bob.Flow());
        Assert.Contains($"o=sipp-{carol.Port}", bob.Messages().Last(m => m.Method == "INVITE").Body, StringComparison.Ordinal);
        Assert.Contains($"o=sipp-{bob.Port}", carol.Messages().First(m => m.Method == "ACK").Body, StringComparison.Ordinal);

        await h.Engine.TerminateAsync(new DialogId(moved.CallId, moved.FromTag!, moved.ToTag!), Ct);
        await bob.AssertSucceededAsync();
        await carol.AssertSucceededAsync();
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task AFailedTransferKeepsTheOriginalCall()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("answer", "bob");
        var carol = await h.PhoneAsync("busy", "carol");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        var connection = events[4].Leg;

        await h.Engine.TransferAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), TransferEndpoint.Caller, carol.Uri, Ct);
        await carol.AssertSucceededAsync();
        events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "the transfer legs retracted");
        Assert.Equal(["created alice@127.0.0.1", "requested carol@127.0.0.1", "retract alice@127.0.0.1", "retract carol@127.0.0.1"], events.Where((_, i) => i >= 7).Select(e => e.Short));
        Assert.All(events.Where((_, i) => i >= 9), e => Assert.Equal(486, e.End!.SipStatus));
        Assert.False(alice.HasExited);
        Assert.False(bob.HasExited);

        await h.Engine.TerminateAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), Ct);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task CancellingTheCalleesInviteEndsTheCallAndHangsUpTheCaller()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer", "alice");
        var bob = await h.PhoneAsync("ring-forever", "bob");

        await h.CreateAsync(alice, bob);
        var events = await h.Observer.WaitForAsync(e => e.Count == 4, "bob ringing");
        var ringing = events[3].Leg;
        await Task.Delay(200, Ct);
        await h.Engine.CancelAsync(ringing.CallId, ringing.FromTag!, Ct);

        await bob.AssertSucceededAsync();
        await alice.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "> CANCEL", "< 200", "< 487", "> ACK"], bob.Flow());
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> BYE", "< 200"], alice.Flow());
        events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.All(events.Where((_, i) => i >= 4), e => Assert.Equal("cancelled", e.End!.Reason));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task WhenTheCallerHangsUpTheCalleeIsHungUp()
    {
        await using var h = new EngineHarness();
        var alice = await h.PhoneAsync("answer-hangup", "alice", "-d", "500");
        var bob = await h.PhoneAsync("answer", "bob");

        await h.CreateAsync(alice, bob);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "< BYE", "> 200"], alice.Flow());
        var events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.All(events.Where((_, i) => i >= 7), e => Assert.Equal("caller hung up", e.End!.Reason));
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task AddressesOfAConfiguredDomainGoThroughItsProxy()
    {
        // The "proxy" is a sipp phone: it receives the INVITE for sip:alice@pbx.test with a loose Route to itself.
        var pbx = await SippPhone.StartAsync("answer", "pbx");
        await using var _ = pbx;
        await using var h = new EngineHarness(o =>
        {
            o.Domains["pbx.test"] = new SipDomainOptions { Proxy = $"127.0.0.1:{pbx.Port}" };
            o.LocalDomains = [];
        });
        var bob = await h.PhoneAsync("answer", "bob");

        await h.Engine.CreateAsync(new CallSetup("sip:alice@pbx.test", bob.Uri, "prox1234", null), Ct);
        var events = await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection");
        Assert.Equal(["requested alice@pbx.test", "confirmed alice@pbx.test", "created alice@pbx.test", "confirmed alice@pbx.test", "retract alice@pbx.test"],
            events.Select(e => e.Short)); // bob's domain is not local: no leg on his node
        Assert.Equal("sip:call-setup@pbx.test", events[0].Leg.FromUri);

        var invite = pbx.Messages().First(m => m.Method == "INVITE").Text;
        Assert.StartsWith("INVITE sip:alice@pbx.test SIP/2.0", invite, StringComparison.Ordinal);
        Assert.Contains($"Route: <sip:127.0.0.1:{pbx.Port};lr>", invite, StringComparison.Ordinal);
        Assert.Contains("From: \"Call Setup\" <sip:call-setup@pbx.test>;tag=", invite, StringComparison.Ordinal);

        var connection = events[3].Leg;
        await h.Engine.TerminateAsync(new DialogId(connection.CallId, connection.FromTag!, connection.ToTag!), Ct);
        await pbx.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        await h.AssertNothingLeftAsync();
    }

    [Fact]
    public async Task CommandsForUnknownCallsAndUnroutableAddressesFailAtOnce()
    {
        await using var h = new EngineHarness();
        var e1 = await Assert.ThrowsAsync<CallControlException>(() => h.Engine.CreateAsync(new CallSetup("sip:alice@127.0.0.1:5999", "sip:bob@nowhere.invalid", "x1234567", null), Ct));
        Assert.Contains("NO_ROUTE_DESTINATION", e1.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<CallControlException>(() => h.Engine.CreateAsync(new CallSetup("alice", "sip:bob@127.0.0.1:5999", "x1234567", null), Ct));
        await Assert.ThrowsAsync<CallControlException>(() => h.Engine.TerminateAsync(new DialogId("nope", "a", "b"), Ct));
        await Assert.ThrowsAsync<CallControlException>(() => h.Engine.CancelAsync("nope", "a", Ct));
        await Assert.ThrowsAsync<CallControlException>(() => h.Engine.TransferAsync(new DialogId("nope", "a", "b"), TransferEndpoint.Callee, "sip:c@127.0.0.1:5998", Ct));
        Assert.Empty(h.Observer.Events);
        await h.AssertNothingLeftAsync();
    }
}
