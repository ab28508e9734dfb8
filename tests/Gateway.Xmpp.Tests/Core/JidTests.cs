using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Tests.Core;

public class JidTests
{
    [Theory]
    [InlineData("alice@example.com/phone", "alice", "example.com", "phone")]
    [InlineData("example.com", null, "example.com", null)]
    [InlineData("commands.active-calls.example.com", null, "commands.active-calls.example.com", null)]
    [InlineData("Alice@Example.COM/Res/With/Slashes", "alice", "example.com", "Res/With/Slashes")]
    public void ParseSplitsLocalDomainAndResource(string text, string? local, string domain, string? resource)
    {
        var jid = Jid.Parse(text);
        Assert.Equal(local, jid.Local);
        Assert.Equal(domain, jid.Domain);
        Assert.Equal(resource, jid.Resource);
    }

    [Fact]
    public void BareJidsCompareCaseInsensitively() =>
        Assert.Equal(Jid.Parse("Hiro@Example.onsip.com"), Jid.Parse("hiro@example.onsip.com"));

    [Theory]
    [InlineData("")]
    [InlineData("@example.com")]
    [InlineData("a<b@example.com")]
    [InlineData("alice@example.com/")]
    public void InvalidJidsAreRejected(string text) => Assert.False(Jid.TryParse(text, out _));

    [Fact]
    public void BareDropsTheResource() =>
        Assert.Equal("alice@example.com", Jid.Parse("alice@example.com/x").Bare.ToString());
}
