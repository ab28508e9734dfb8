using System.Text;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

public class PlainMechanismTests
{
    [Fact]
    public void MessageIsNulUsernameNulPassword()
    {
        var plain = new PlainMechanism(new SaslCredentials("user", "pass"));
        Assert.Equal("PLAIN", plain.Name);
        Assert.Equal("\0user\0pass"u8.ToArray(), plain.GetInitialResponse());
    }

    [Fact]
    public void AuthorizationIdPrecedesTheFirstNulUnescaped()
    {
        var plain = new PlainMechanism(new SaslCredentials("user", "pass", "admin=1,x@example.com"));
        Assert.Equal("admin=1,x@example.com\0user\0pass"u8.ToArray(), plain.GetInitialResponse());
    }

    [Fact]
    public void UsernameAndPasswordArePreparedAndSentAsUtf8()
    {
        var plain = new PlainMechanism(new SaslCredentials("I\u00ADX", "p\u00E4ss\u00A0word"));
        Assert.Equal(Encoding.UTF8.GetBytes("\0IX\0p\u00E4ss word"), plain.GetInitialResponse());
    }

    [Theory]
    [InlineData("us\0er", "pass", null)]
    [InlineData("user", "pa\0ss", null)]
    [InlineData("user", "pass", "ad\0min")]
    [InlineData("", "pass", null)]
    [InlineData("user", "", null)]
    public void CredentialsThatWouldBreakTheMessageAreRejected(string username, string password, string? authorizationId)
    {
        var exception = Assert.Throws<XmppAuthenticationException>(() => new PlainMechanism(new SaslCredentials(username, password, authorizationId)));
        Assert.Equal("invalid-credentials", exception.Condition);
    }

    [Fact]
    public void ChallengeIsRejected()
    {
        var plain = new PlainMechanism(new SaslCredentials("user", "pass"));
        plain.GetInitialResponse();
        var exception = Assert.Throws<XmppAuthenticationException>(() => plain.EvaluateChallenge([]));
        Assert.Equal("unexpected-challenge", exception.Condition);
    }

    [Fact]
    public void SuccessIsAcceptedWithOrWithoutData()
    {
        var plain = new PlainMechanism(new SaslCredentials("user", "pass"));
        plain.GetInitialResponse();
        plain.VerifySuccess(null);
        plain.VerifySuccess([]);
    }

    [Fact]
    public void SuccessBeforeTheInitialResponseIsAProgrammingError() =>
        Assert.Throws<InvalidOperationException>(() => new PlainMechanism(new SaslCredentials("user", "pass")).VerifySuccess(null));
}
