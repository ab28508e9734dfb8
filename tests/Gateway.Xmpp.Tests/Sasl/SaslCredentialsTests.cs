using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

public class SaslCredentialsTests
{
    [Fact]
    public void ToStringNeverShowsThePassword()
    {
        var text = new SaslCredentials("alice", "s3cret", "admin@example.com").ToString();
        Assert.DoesNotContain("s3cret", text, StringComparison.Ordinal);
        Assert.Contains("alice", text, StringComparison.Ordinal);
        Assert.Contains("admin@example.com", text, StringComparison.Ordinal);
    }
}
