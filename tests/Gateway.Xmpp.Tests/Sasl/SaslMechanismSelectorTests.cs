using System.Text;
using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

public class SaslMechanismSelectorTests
{
    private static readonly SaslCredentials Credentials = new("user", "pencil");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ScramSha256IsPreferredOverEverythingElse(bool encrypted)
    {
        var selected = SaslMechanismSelector.Select(["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"], Credentials, encrypted);
        Assert.Equal("SCRAM-SHA-256", Assert.IsType<ScramMechanism>(selected).Name);
    }

    [Fact]
    public void ScramSha1IsPreferredOverPlain()
    {
        var selected = SaslMechanismSelector.Select(["PLAIN", "SCRAM-SHA-1"], Credentials, streamIsEncrypted: true);
        Assert.Equal("SCRAM-SHA-1", Assert.IsType<ScramMechanism>(selected).Name);
    }

    [Fact]
    public void PlainIsChosenOnAnEncryptedStream() =>
        Assert.IsType<PlainMechanism>(SaslMechanismSelector.Select(["DIGEST-MD5", "PLAIN"], Credentials, streamIsEncrypted: true));

    [Fact]
    public void PlainIsRefusedInClearText() =>
        Assert.Null(SaslMechanismSelector.Select(["PLAIN"], Credentials, streamIsEncrypted: false));

    [Fact]
    public void PlainInClearTextNeedsTheExplicitSwitch() =>
        Assert.IsType<PlainMechanism>(SaslMechanismSelector.Select(["PLAIN"], Credentials, streamIsEncrypted: false, allowPlainWithoutTls: true));

    [Theory]
    [InlineData("")]
    [InlineData("DIGEST-MD5 X-OAUTH2 EXTERNAL ANONYMOUS")]
    [InlineData("SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS")]
    [InlineData("SCRAM-SHA-512 scram-sha-256")]
    public void NothingAcceptableYieldsNull(string offered) =>
        Assert.Null(SaslMechanismSelector.Select(offered.Split(' ', StringSplitOptions.RemoveEmptyEntries), Credentials, streamIsEncrypted: true));

    [Fact]
    public void OfferedNamesAreTrimmed() =>
        Assert.IsType<ScramMechanism>(SaslMechanismSelector.Select([" SCRAM-SHA-1\n"], Credentials, streamIsEncrypted: false));

    [Fact]
    public void EachCallReturnsAFreshMechanism() =>
        Assert.NotSame(
            SaslMechanismSelector.Select(["SCRAM-SHA-256"], Credentials, true),
            SaslMechanismSelector.Select(["SCRAM-SHA-256"], Credentials, true));

    [Fact]
    public void TheCacheIsHandedToTheScramMechanism()
    {
        var cache = new ScramKeyCache();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var server = new TestScramServer(ScramHash.Sha256, "pencil", Encoding.UTF8.GetBytes("salt"), 4096);
            server.Authenticate(SaslMechanismSelector.Select(["SCRAM-SHA-256"], Credentials, true, cache: cache)!);
        }
        Assert.Equal(1, cache.Derivations);
    }
}
