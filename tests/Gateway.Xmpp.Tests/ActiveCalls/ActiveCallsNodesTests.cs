using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Tests.ActiveCalls;

public class ActiveCallsNodesTests
{
    [Theory]
    [InlineData("alice@example.com", "/me/alice@example.com")]
    [InlineData("hiro@example.onsip.com/psi", "/me/hiro@example.onsip.com")]
    [InlineData("foo!example.onsip.com@dashboard.onsip.com", "/me/foo!example.onsip.com@dashboard.onsip.com")]
    public void ForJidUsesTheBareJid(string jid, string node) => Assert.Equal(node, ActiveCallsNodes.ForJid(Jid.Parse(jid)));

    [Theory]
    [InlineData("foo@example.onsip.com", "/example.onsip.com/foo")]
    [InlineData("sip:enoch@Example.OnSIP.com", "/example.onsip.com/enoch")]
    public void ForSipAddressIsDomainThenUser(string address, string node) => Assert.Equal(node, ActiveCallsNodes.ForSipAddress(address));

    [Theory]
    [InlineData("foo")]
    [InlineData("@example.com")]
    [InlineData("foo@")]
    [InlineData("a@b@c")]
    [InlineData("a/b@example.com")]
    [InlineData("foo@example.com;transport=tcp")]
    [InlineData("foo@me")]
    public void ForSipAddressRejectsWhatIsNotUserAtDomain(string address) =>
        Assert.Throws<FormatException>(() => ActiveCallsNodes.ForSipAddress(address));

    [Theory]
    [InlineData("/me/alice@example.com", "alice@example.com")]
    [InlineData("/me/foo!example.onsip.com@dashboard.onsip.com", "foo!example.onsip.com@dashboard.onsip.com")]
    [InlineData("/me/enoch!example.onsip.com@dashboard.onsip.com/example.onsip.com", null)]
    [InlineData("/example.onsip.com/foo", null)]
    [InlineData("/me/", null)]
    [InlineData("/", null)]
    [InlineData(null, null)]
    public void TryParseJidReadsTheJidLevel(string? node, string? jid)
    {
        Assert.Equal(jid is not null, ActiveCallsNodes.TryParseJid(node, out var parsed));
        Assert.Equal(jid is null ? null : Jid.Parse(jid), parsed);
    }

    [Theory]
    [InlineData("/example.onsip.com/foo", "foo@example.onsip.com")]
    [InlineData("/example.onsip.com/enoch", "enoch@example.onsip.com")]
    [InlineData("/me/alice@example.com", null)]
    [InlineData("/me/alice", null)]
    [InlineData("/example.onsip.com", null)]
    [InlineData("/example.onsip.com/", null)]
    [InlineData("/example.onsip.com/foo/bar", null)]
    [InlineData("example.onsip.com/foo", null)]
    [InlineData("/", null)]
    [InlineData(null, null)]
    public void TryParseSipAddressReadsTheLeafLevel(string? node, string? address)
    {
        Assert.Equal(address is not null, ActiveCallsNodes.TryParseSipAddress(node, out var parsed));
        Assert.Equal(address, parsed);
    }

    [Fact]
    public void NodesRoundTrip()
    {
        Assert.True(ActiveCallsNodes.TryParseSipAddress(ActiveCallsNodes.ForSipAddress("foo@example.onsip.com"), out var address));
        Assert.Equal("foo@example.onsip.com", address);
        Assert.True(ActiveCallsNodes.TryParseJid(ActiveCallsNodes.ForJid(Jid.Parse("hiro@example.onsip.com/psi")), out var jid));
        Assert.Equal(Jid.Parse("hiro@example.onsip.com"), jid);
    }
}
