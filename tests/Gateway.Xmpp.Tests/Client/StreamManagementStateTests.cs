using System.Xml.Linq;
using Gateway.Xmpp.Client;

namespace Gateway.Xmpp.Tests.Client;

public class StreamManagementStateTests
{
    private const int Window = StreamManagementState.AckRequestWindow;

    private static XElement Message(int n) => new("message", new XAttribute("id", "m" + n));

    private static XElement Iq(int n) => new("iq", new XAttribute("id", "q" + n));

    private static void SendIqs(StreamManagementState sm, int count, int first = 0)
    {
        for (var i = 0; i < count; i++) sm.OnSent(Iq(first + i));
    }

    [Fact]
    public void AcksAreCumulative()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        for (var i = 0; i < 5; i++) sm.OnSent(Message(i));
        sm.OnAck(3);
        Assert.Equal(2, sm.UnackedCount);
        Assert.Equal(["m3", "m4"], sm.TakeUnacked().Select(m => (string)m.Attribute("id")!));
    }

    [Fact]
    public void CountersWrapModulo2To32()
    {
        // 2^32 - 2 stanzas were already acknowledged; 4 more are sent and the peer's h wraps to 1.
        var sm = new StreamManagementState("sm-1", resumable: true, inbound: 0, acknowledged: uint.MaxValue - 1);
        for (var i = 0; i < 4; i++) sm.OnSent(Message(10 + i));
        Assert.True(sm.OnAck(1)); // uint.MaxValue - 1 + 3 wraps to 1
        Assert.Equal(1, sm.UnackedCount);
        Assert.Equal(1u, sm.Acknowledged);
    }

    [Fact]
    public void AnImpossibleAckIsCountedAndDoesNotUnderflow()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        sm.OnSent(Message(0));
        Assert.False(sm.OnAck(7));
        Assert.Equal(1, sm.InconsistentAcks);
        Assert.Equal(0, sm.UnackedCount);
    }

    [Fact]
    public void InboundCountWrapsToo()
    {
        var sm = new StreamManagementState("sm-1", resumable: true, inbound: uint.MaxValue, acknowledged: 0);
        sm.OnInboundStanza();
        Assert.Equal(0u, sm.Inbound);
    }

    [Fact]
    public void WithoutAResumptionIdTheSessionIsNotResumable() =>
        Assert.False(new StreamManagementState(null, resumable: true).Resumable);

    [Fact]
    public void RequestsArrivingBeforeTheWriterFlushesAreAnsweredOnceWithTheLatestCount()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        sm.OnInboundStanza();
        Assert.True(sm.OnAckRequested());   // wakes the writer
        sm.OnInboundStanza();
        sm.OnInboundStanza();
        Assert.False(sm.OnAckRequested());  // the answer is already on its way

        Assert.True(sm.TryTakeOwedAck(out var h));
        Assert.Equal(3u, h);
        Assert.False(sm.TryTakeOwedAck(out _));
        Assert.Equal(new StreamManagementStatistics(AckRequestsReceived: 2, AcksSent: 1, AckRequestsSent: 0, AcksReceived: 0, Unacked: 0, InconsistentAcks: 0), sm.Statistics);

        // A request after the answer went out is owed an answer of its own.
        Assert.True(sm.OnAckRequested());
        Assert.True(sm.TryTakeOwedAck(out h));
        Assert.Equal(3u, h);
    }

    [Fact]
    public void TheAnsweredCountWrapsModulo2To32()
    {
        var sm = new StreamManagementState("sm-1", resumable: true, inbound: uint.MaxValue - 1, acknowledged: 0);
        sm.OnInboundStanza();
        sm.OnInboundStanza();
        sm.OnInboundStanza();
        sm.OnAckRequested();
        Assert.True(sm.TryTakeOwedAck(out var h));
        Assert.Equal(1u, h);
    }

    [Fact]
    public void IqsAreAckedPerWindowWithOneRequestOutstandingAtATime()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        SendIqs(sm, Window - 1);
        Assert.False(sm.TryBeginAckRequest());
        SendIqs(sm, 1, first: Window - 1);
        Assert.True(sm.TryBeginAckRequest());

        // However much goes out meanwhile, the unanswered request is not repeated: its answer is cumulative.
        SendIqs(sm, 5 * Window, first: Window);
        Assert.False(sm.TryBeginAckRequest());

        Assert.True(sm.OnAck(Window));
        Assert.Equal(5 * Window, sm.UnackedCount);
        Assert.True(sm.TryBeginAckRequest());
        Assert.Equal(new StreamManagementStatistics(0, 0, AckRequestsSent: 2, AcksReceived: 1, Unacked: 5 * Window, InconsistentAcks: 0), sm.Statistics);
    }

    [Fact]
    public void AMessageOrPresenceIsFollowedByARequestAtOnce()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        sm.OnSent(new XElement("presence"));
        Assert.True(sm.TryBeginAckRequest());
        sm.OnAck(1);
        sm.OnSent(Iq(1));
        Assert.False(sm.TryBeginAckRequest());
        sm.OnSent(Message(2));
        Assert.True(sm.TryBeginAckRequest());
    }

    [Fact]
    public void StanzasSentInALullAreAckedOnceTheStreamIsIdle()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        Assert.False(sm.RequestAckIfIdle());        // nothing to confirm
        SendIqs(sm, 3);
        Assert.False(sm.RequestAckIfIdle());        // still sending since the last look
        Assert.False(sm.TryBeginAckRequest());
        Assert.True(sm.RequestAckIfIdle());         // quiet since the last look, 3 unconfirmed
        Assert.True(sm.TryBeginAckRequest());
        Assert.False(sm.RequestAckIfIdle());        // asked already
        sm.OnAck(3);
        Assert.False(sm.RequestAckIfIdle());        // all confirmed
    }

    [Fact]
    public void ResumeKeepsTheCountsExactAndForgetsWhatWasInFlight()
    {
        // Near the wrap: 2^32 - 3 stanzas acknowledged before, 5 more sent, the server had handled 2 of them.
        var sm = new StreamManagementState("sm-1", resumable: true, inbound: uint.MaxValue, acknowledged: uint.MaxValue - 2);
        for (var i = 0; i < 5; i++) sm.OnSent(Message(i));
        Assert.True(sm.TryBeginAckRequest());
        sm.OnInboundStanza();
        sm.OnAckRequested();

        var resend = sm.Resume(uint.MaxValue);

        Assert.Equal(["m2", "m3", "m4"], resend.Select(m => (string)m.Attribute("id")!));
        Assert.Equal(0, sm.UnackedCount);
        Assert.Equal(0u, sm.Inbound);                // our count goes on from where <resume h='0'/> left it
        Assert.False(sm.TryTakeOwedAck(out _));      // <resume/> carried it
        // The re-sent stanzas are counted again as they go out, and may be asked about at once.
        foreach (var stanza in resend) sm.OnSent(stanza);
        Assert.True(sm.TryBeginAckRequest());
        Assert.True(sm.OnAck(unchecked(uint.MaxValue + 3u)));   // wraps to 2: the three re-sent are confirmed
        Assert.Equal(0, sm.UnackedCount);
        Assert.Equal(0, sm.InconsistentAcks);
    }

    [Fact]
    public void AFailedResumeReportsWhatTheServerHadNotHandled()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        for (var i = 0; i < 4; i++) sm.OnSent(Message(i));
        Assert.Equal(["m3"], sm.TakeUnacked(3).Select(m => (string)m.Attribute("id")!));
        Assert.Equal(0, sm.UnackedCount);
    }
}
