using System.Xml.Linq;
using Gateway.Xmpp.Client;

namespace Gateway.Xmpp.Tests.Client;

public class StreamManagementStateTests
{
    private static XElement Message(int n) => new("message", new XAttribute("id", "m" + n));

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
        sm.OnAck(1); // uint.MaxValue - 1 + 3 wraps to 1
        Assert.Equal(1, sm.UnackedCount);
        Assert.Equal(1u, sm.Acknowledged);
    }

    [Fact]
    public void AnImpossibleAckIsCountedAndDoesNotUnderflow()
    {
        var sm = new StreamManagementState("sm-1", resumable: true);
        sm.OnSent(Message(0));
        sm.OnAck(7);
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
}
