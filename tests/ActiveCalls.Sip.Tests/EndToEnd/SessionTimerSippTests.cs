using System.Diagnostics;
using ActiveCalls.Sip.CallControl;
using ActiveCalls.Sip.Tests.Infrastructure;
using Gateway.Testing.Sip;

namespace ActiveCalls.Sip.Tests.EndToEnd;

/// <summary>
/// RFC 4028 session timers against real sipp phones (deploy/sipp/answer-timer.xml answers refreshes,
/// timer-no-refresh.xml stops answering after the call is up). The engine runs a 4 s interval (MinSE 2 s) so that
/// a refresh comes every 2 s; the phones' 200 OK say "Session-Expires: 4;refresher=uac".
/// </summary>
public class SessionTimerSippTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void ShortTimers(SipOptions o)
    {
        o.SessionTimers.SessionExpires = TimeSpan.FromSeconds(4);
        o.SessionTimers.MinSE = TimeSpan.FromSeconds(2);
    }

    /// <summary>alice and bob on the given scenarios, connected by the engine; returns the events up to the connection.</summary>
    private static async Task<(SippPhone Alice, SippPhone Bob, IReadOnlyList<LegEvent> Events)> ConnectAsync(EngineHarness h, string aliceScenario, string bobScenario)
    {
        var alice = await h.PhoneAsync(aliceScenario, "alice");
        var bob = await h.PhoneAsync(bobScenario, "bob");
        await h.CreateAsync(alice, bob);
        return (alice, bob, await h.Observer.WaitForAsync(e => e.Any(x => x.IsRetract), "the connection"));
    }

    [Fact]
    public async Task APhoneThatStopsAnsweringRefreshesGetsByeAndTheOtherPhoneIsHungUp()
    {
        await using var h = new EngineHarness(ShortTimers);
        var (alice, bob, _) = await ConnectAsync(h, "timer-no-refresh", "answer-timer");
        var connected = Stopwatch.StartNew();

        await alice.AssertSucceededAsync(TimeSpan.FromSeconds(15));
        await bob.AssertSucceededAsync(TimeSpan.FromSeconds(5));
        // The refresh at 2 s (half the interval), unanswered through Timer B (64·T1 = 3.2 s here), then BYE.
        Assert.InRange(connected.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12));
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK", "> INVITE", "> BYE", "< 200"], alice.Flow());
        var aliceSaw = alice.Messages();
        var refresh = aliceSaw.Where(m => m.Method == "INVITE").ElementAt(1);
        Assert.Contains("Session-Expires: 4;refresher=uac", refresh.Text, StringComparison.Ordinal);
        Assert.Equal(aliceSaw.First(m => m.Method == "ACK").Body, refresh.Body); // the session bob answered, unchanged
        Assert.Equal(["> BYE", "< 200"], bob.Flow().TakeLast(2));
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK"], bob.Flow().Take(4));

        var events = await h.Observer.WaitForAsync(e => e.Count(x => x.IsRetract) == 3, "every leg retracted");
        Assert.All(events.Where(e => e.IsRetract).Skip(1), e => Assert.StartsWith("session refresh failed (408", e.End!.Reason, StringComparison.Ordinal));
        await h.AssertNothingLeftAsync();
        Assert.Equal(0, h.Engine.UserAgent.SessionTimerCount);
    }

    [Fact]
    public async Task PhonesThatAnswerRefreshesStayConnectedAcrossSeveralRefreshes()
    {
        await using var h = new EngineHarness(ShortTimers);
        var (alice, bob, events) = await ConnectAsync(h, "answer-timer", "answer-timer");
        var confirmed = events.Last(e => e.Short == "confirmed alice@127.0.0.1").Leg;

        await Task.Delay(TimeSpan.FromSeconds(5.5), Ct); // refreshes at 2 s and 4 s on both dialogs
        Assert.False(alice.HasExited);
        Assert.False(bob.HasExited);
        Assert.Equal(1, h.Engine.ActiveCallCount);
        Assert.Equal(7, h.Observer.Events.Count); // nothing since the connection
        Assert.Equal(2, h.Engine.UserAgent.SessionTimerCount);

        await h.Engine.TerminateAsync(new DialogId(confirmed.CallId, confirmed.FromTag!, confirmed.ToTag!), Ct);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        foreach (var phone in new[] { alice, bob })
        {
            var flow = phone.Flow();
            Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK"], flow.Take(4));
            Assert.Equal(["> BYE", "< 200"], flow.TakeLast(2));
            var refreshes = phone.Messages().Where(m => m.Method == "INVITE").Skip(1).Select(m => m.Text).Distinct().ToList();
            Assert.InRange(refreshes.Count, 2, 3);
            Assert.All(refreshes, r => Assert.Contains("Session-Expires: 4;refresher=uac", r, StringComparison.Ordinal));
        }
        await h.AssertNothingLeftAsync();
        Assert.Equal(0, h.Engine.UserAgent.SessionTimerCount);
    }
}
