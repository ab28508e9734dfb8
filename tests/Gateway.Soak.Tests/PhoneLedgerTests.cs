using Gateway.Soak.Stack;

namespace Gateway.Soak.Tests;

/// <summary>What a phone shows is read off sipp's message log, per Call-ID.</summary>
public sealed class PhoneLedgerTests : IDisposable
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"phone-ledger-{Guid.NewGuid():N}.log");

    public void Dispose() => File.Delete(_log);

    private static string Message(bool sent, string startLine, string callId, string cseq) => $"""
        ----------------------------------------------- 2026-12-07 10:00:33.817191
        UDP message {(sent ? "sent (343 bytes):" : "received [521] bytes :")}

        {startLine}
        Via: SIP/2.0/UDP 127.0.0.1:32769;branch=z9hG4bKee657c062ac32682;rport
        From: "Call Setup" <sip:call-setup@activecalls.test>;tag=ded94f557d
        To: <sip:alice@activecalls.test>
        Call-ID: {callId}
        CSeq: {cseq}
        Content-Length: 0


        """;

    private PhoneLedger Read(params string[] messages)
    {
        File.WriteAllText(_log, string.Concat(messages));
        return PhoneLedger.Parse("alice", _log);
    }

    [Fact]
    public void AnsweredAndAcknowledgedDialogWithoutByeIsUp()
    {
        var ledger = Read(
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "a1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 180 Ringing", "a1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "a1@127.0.0.1", "1 INVITE"),
            Message(false, "ACK sip:127.0.0.1:43718 SIP/2.0", "a1@127.0.0.1", "1 ACK"));

        Assert.Equal(["a1@127.0.0.1"], ledger.Up.Select(d => d.CallId));
    }

    [Fact]
    public void ByeEitherWayEndsTheDialog()
    {
        var ledger = Read(
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "in@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "in@127.0.0.1", "1 INVITE"),
            Message(false, "ACK sip:127.0.0.1:43718 SIP/2.0", "in@127.0.0.1", "1 ACK"),
            Message(false, "BYE sip:127.0.0.1:43718 SIP/2.0", "in@127.0.0.1", "2 BYE"),
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "out@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "out@127.0.0.1", "1 INVITE"),
            Message(false, "ACK sip:127.0.0.1:43718 SIP/2.0", "out@127.0.0.1", "1 ACK"),
            Message(true, "BYE sip:call-setup@127.0.0.1:32769 SIP/2.0", "out@127.0.0.1", "1 BYE"));

        Assert.Empty(ledger.Up);
        Assert.All(ledger.Dialogs.Values, d => Assert.True(d.Established && d.Ended));
    }

    [Fact]
    public void CancelBeforeTheAnswerEndsTheDialog()
    {
        var ledger = Read(
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "c1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 180 Ringing", "c1@127.0.0.1", "1 INVITE"),
            Message(false, "CANCEL sip:alice@127.0.0.1:43718 SIP/2.0", "c1@127.0.0.1", "1 CANCEL"));

        Assert.True(Assert.Single(ledger.Dialogs.Values).Ended);
        Assert.Empty(ledger.Up);
    }

    [Fact]
    public void CancelCrossingTheAnswerLeavesTheDialogUp()
    {
        var ledger = Read(
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "x1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "x1@127.0.0.1", "1 INVITE"),
            Message(false, "CANCEL sip:alice@127.0.0.1:43718 SIP/2.0", "x1@127.0.0.1", "1 CANCEL"),
            Message(false, "ACK sip:127.0.0.1:43718 SIP/2.0", "x1@127.0.0.1", "1 ACK"));

        Assert.Equal(["x1@127.0.0.1"], ledger.Up.Select(d => d.CallId));
    }

    [Fact]
    public void SessionRefreshKeepsTheDialogUpAndAnswerWithoutAckIsNotUp()
    {
        var ledger = Read(
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "r1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "r1@127.0.0.1", "1 INVITE"),
            Message(false, "ACK sip:127.0.0.1:43718 SIP/2.0", "r1@127.0.0.1", "1 ACK"),
            Message(false, "INVITE sip:127.0.0.1:43718 SIP/2.0", "r1@127.0.0.1", "2 INVITE"),
            Message(true, "SIP/2.0 200 OK", "r1@127.0.0.1", "2 INVITE"),
            Message(false, "INVITE sip:alice@127.0.0.1:43718 SIP/2.0", "n1@127.0.0.1", "1 INVITE"),
            Message(true, "SIP/2.0 200 OK", "n1@127.0.0.1", "1 INVITE"));

        Assert.Equal(["r1@127.0.0.1"], ledger.Up.Select(d => d.CallId));
    }

    [Fact]
    public void MissingLogMeansNoDialogs()
    {
        Assert.Empty(PhoneLedger.Parse("bob", _log + ".missing").Dialogs);
    }
}
