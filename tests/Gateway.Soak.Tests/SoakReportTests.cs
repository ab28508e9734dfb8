using Gateway.Soak.Faults;
using Gateway.Soak.Load;
using Gateway.Soak.Report;
using Gateway.Soak.Stack;
using Gateway.Soak.Streams;

namespace Gateway.Soak.Tests;

/// <summary>The verdict fails on each way a call can be left behind, and only then.</summary>
public sealed class SoakReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    private static readonly (long, string)[] FullEvents =
        [(1, "call.requested"), (2, "call.caller-ringing"), (3, "call.connected"), (4, "call.hangup-requested"), (5, "call.ended")];

    private static CallOutcome Outcome(string id, RestCall? rest = null, bool hangupAccepted = true, int sseMissing = 0, params PhoneDialog[] dialogs) => new(
        new SoakCall(id, T0) { Create = CreateOutcome.Accepted, ConnectedAt = T0.AddSeconds(2), HangupSentAt = T0.AddSeconds(4), HangupAcceptedAt = hangupAccepted ? T0.AddSeconds(4) : null },
        rest ?? new RestCall(id, "ended", "terminated", T0.AddSeconds(5), ["sip-" + id], FullEvents),
        sseMissing, 0, dialogs);

    private static SoakReport Report(IReadOnlyList<CallOutcome> calls, StreamLedger? sse = null, IReadOnlyList<DealtFault>? faults = null,
        IReadOnlyList<PhoneLedger>? phones = null) => new()
    {
        StartedAt = T0,
        LoadDuration = TimeSpan.FromMinutes(1),
        SettleDuration = TimeSpan.FromSeconds(3),
        LoadAverageBefore = 0.5,
        Calls = calls,
        Faults = faults ?? [new DealtFault(StackPart.Service, FaultKind.Kill, T0.AddSeconds(1), T0.AddSeconds(3), T0.AddSeconds(3.5))],
        Streams = [sse ?? new StreamLedger("sse"), new StreamLedger("signalr")],
        Phones = phones ?? [],
        Memory = new Dictionary<StackPart, (long, long, long)> { [StackPart.Gateway] = (100 << 20, 120 << 20, 130 << 20) },
        Starts = new Dictionary<StackPart, int> { [StackPart.Gateway] = 1, [StackPart.Service] = 2, [StackPart.Prosody] = 1 },
        UnexpectedExits = [],
        MinimumFaultsPerKind = 1,
        Rotation = [(StackPart.Service, FaultKind.Kill)],
    };

    private static IEnumerable<string> Broken(SoakReport report) => report.Checks.Where(c => !c.Kept).Select(c => c.Promise);

    [Fact]
    public void EveryCallEndedEverywherePasses()
    {
        var report = Report([Outcome("aaaa0001"), Outcome("aaaa0002")]);

        Assert.True(report.Passed, string.Join("; ", Broken(report)));
        Assert.Contains("verdict **passed**", report.ToMarkdown(), StringComparison.Ordinal);
    }

    [Fact]
    public void ACallStillConnectedOnRestFailsAndItsAcceptedHangupCountsAsLost()
    {
        var report = Report([Outcome("aaaa0001", new RestCall("aaaa0001", "connected", null, null, [], FullEvents[..3]))]);

        Assert.Equal(["Every call the gateway shows has ended on REST", "No accepted hang-up was lost"], Broken(report));
        Assert.Contains("verdict **FAILED**", report.ToMarkdown(), StringComparison.Ordinal);
    }

    [Fact]
    public void ACallTheGatewayForgotAfterA202Fails()
    {
        var forgotten = Outcome("aaaa0001") with { Rest = null };

        Assert.Contains("Every call a 202 was given for is known to the gateway", Broken(Report([forgotten])));
    }

    [Fact]
    public void AGapInACallsEventsFails()
    {
        var report = Report([Outcome("aaaa0001", new RestCall("aaaa0001", "ended", "terminated", T0, [], [(1, "call.requested"), (3, "call.ended")]))]);

        Assert.Equal(["Every call's events are numbered 1..n without gaps, ending with call.ended"], Broken(report));
    }

    [Fact]
    public void ADialogLeftUpOnAPhoneFails()
    {
        var up = new PhoneDialog("bob", "sip-aaaa0001") { Answered = true, Established = true };
        var report = Report([Outcome("aaaa0001", dialogs: up)], phones: [PhoneLedgerWith(up)]);

        Assert.Equal(["No dialog is left up on a phone"], Broken(report));
    }

    [Fact]
    public void AnEventMissingOnAStreamFails()
    {
        Assert.Equal(["sse: every event delivered once, in order, no reset"], Broken(Report([Outcome("aaaa0001", sseMissing: 1)])));
    }

    [Fact]
    public void AFaultDealtTooRarelyOrNeverRecoveredFromFails()
    {
        var report = Report([Outcome("aaaa0001")], faults: [new DealtFault(StackPart.Service, FaultKind.Freeze, T0, T0.AddSeconds(12), null)]);

        Assert.Equal(["Every fault dealt at least 1 times", "The gateway was ready again after every fault"], Broken(report));
    }

    [Fact]
    public void APhoneRungTwiceForOneCallFails()
    {
        var first = new PhoneDialog("alice", "sip-aaaa0001") { Answered = true, Established = true };
        var second = first with { CallId = "sip-aaaa0001-again" };
        var report = Report([Outcome("aaaa0001")], phones: [PhoneLedgerWith(first, second)]);

        // Both dialogs are also up (no BYE in the log), so that promise fails as well.
        Assert.Equal(["No dialog is left up on a phone", "No call was placed twice"], Broken(report));
    }

    /// <summary>A phone whose log shows each dialog answered and acknowledged (and never ended).</summary>
    private static PhoneLedger PhoneLedgerWith(params PhoneDialog[] dialogs)
    {
        var log = Path.Combine(Path.GetTempPath(), $"phone-{Guid.NewGuid():N}.log");
        try
        {
            File.WriteAllText(log, string.Concat(dialogs.Select(dialog => $"""
                ----------------------------------------------- 2026-12-07 10:00:33.817191
                UDP message sent (343 bytes):

                SIP/2.0 200 OK
                Call-ID: {dialog.CallId}
                CSeq: 1 INVITE


                ----------------------------------------------- 2026-12-07 10:00:33.817191
                UDP message received [300] bytes :

                ACK sip:127.0.0.1:43718 SIP/2.0
                Call-ID: {dialog.CallId}
                CSeq: 1 ACK


                """)));
            return PhoneLedger.Parse(dialogs[0].Phone, log);
        }
        finally
        {
            File.Delete(log);
        }
    }
}
