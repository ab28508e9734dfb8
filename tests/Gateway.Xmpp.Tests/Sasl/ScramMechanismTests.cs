using System.Text;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

public class ScramMechanismTests
{
    private const string Rfc5802ClientNonce = "fyko+d2lbbFgONRv9qkxdawL";
    private const string Rfc5802ServerFirst = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    private const string Rfc5802ClientFinal = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    private const string Rfc5802ServerFinal = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

    private const string Rfc7677ClientNonce = "rOprNGfwEbeRWgbNEkqO";
    private const string Rfc7677ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string Rfc7677ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string Rfc7677ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    private static readonly SaslCredentials Pencil = new("user", "pencil");

    private static ScramMechanism Rfc5802Mechanism(ScramKeyCache? cache = null) =>
        new(ScramHash.Sha1, Pencil, cache, () => Rfc5802ClientNonce);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
    private static string Text(byte[] data) => Encoding.UTF8.GetString(data);

    /// <summary>Sends the client-first message and returns the mechanism, ready for the RFC 5802 server-first.</summary>
    private static ScramMechanism Started(ScramMechanism mechanism)
    {
        mechanism.GetInitialResponse();
        return mechanism;
    }

    private static XmppAuthenticationException AssertRejected(string condition, Action action)
    {
        var exception = Assert.Throws<XmppAuthenticationException>(action);
        Assert.Equal(condition, exception.Condition);
        return exception;
    }

    private static XmppAuthenticationException AssertRejected(string condition, Func<object?> action)
    {
        var exception = Assert.Throws<XmppAuthenticationException>(action);
        Assert.Equal(condition, exception.Condition);
        return exception;
    }

    [Fact]
    public void Rfc5802TestVectorProducesTheExactMessagesAndAcceptsTheServerSignature()
    {
        var scram = Rfc5802Mechanism();

        Assert.Equal("SCRAM-SHA-1", scram.Name);
        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", Text(scram.GetInitialResponse()));
        Assert.Equal(Rfc5802ClientFinal, Text(scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst))));
        scram.VerifySuccess(Utf8(Rfc5802ServerFinal));
    }

    [Fact]
    public void Rfc7677TestVectorProducesTheExactMessagesAndAcceptsTheServerSignature()
    {
        var scram = new ScramMechanism(ScramHash.Sha256, Pencil, clientNonceFactory: () => Rfc7677ClientNonce);

        Assert.Equal("SCRAM-SHA-256", scram.Name);
        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", Text(scram.GetInitialResponse()));
        Assert.Equal(Rfc7677ClientFinal, Text(scram.EvaluateChallenge(Utf8(Rfc7677ServerFirst))));
        scram.VerifySuccess(Utf8(Rfc7677ServerFinal));
    }

    [Theory]
    [InlineData(ScramHash.Sha1)]
    [InlineData(ScramHash.Sha256)]
    public void DefaultClientNonceIsFreshAndCarriesAtLeast24RandomBytes(ScramHash hash)
    {
        static string Nonce(ScramHash hash) => Text(new ScramMechanism(hash, Pencil).GetInitialResponse()).Split(",r=")[1];

        var first = Nonce(hash);
        Assert.NotEqual(first, Nonce(hash));
        Assert.True(Convert.FromBase64String(first).Length >= 24);
        Assert.DoesNotContain(',', first);
    }

    [Theory]
    [InlineData(ScramHash.Sha1)]
    [InlineData(ScramHash.Sha256)]
    public void ProofIsAcceptedByAnIndependentServerAndItsSignatureIsVerified(ScramHash hash)
    {
        var server = new TestScramServer(hash, "correct horse", Utf8("some salt"), 4096);
        server.Authenticate(new ScramMechanism(hash, new SaslCredentials("alice", "correct horse")));
        Assert.Equal("alice", server.Username);
        Assert.Null(server.AuthorizationId);
    }

    [Fact]
    public void ServerNonceThatDoesNotStartWithTheClientNonceIsRejected() =>
        AssertRejected("nonce-mismatch", () => Started(Rfc5802Mechanism())
            .EvaluateChallenge(Utf8("r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")));

    [Fact]
    public void ServerNonceWithoutAServerPartIsRejected() =>
        AssertRejected("nonce-mismatch", () => Started(Rfc5802Mechanism())
            .EvaluateChallenge(Utf8("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096")));

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("-4096")]
    [InlineData("10000001")]
    [InlineData("99999999999999999999")]
    public void ZeroNegativeOrAbsurdIterationCountsAreRejected(string iterations) =>
        AssertRejected("invalid-iteration-count", () => Started(Rfc5802Mechanism())
            .EvaluateChallenge(Utf8($"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i={iterations}")));

    [Fact]
    public void IterationCountsBelow4096AreAccepted()
    {
        var server = new TestScramServer(ScramHash.Sha256, "pencil", Utf8("salt"), 1);
        server.Authenticate(new ScramMechanism(ScramHash.Sha256, Pencil));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92")]
    [InlineData("s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,i=4096")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=not base64!,i=4096")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=,i=4096")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096x")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=+4096")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i= 4096")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,")]
    [InlineData("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j\u00e9,s=QSXCR+Q6sek8bf92,i=4096")]
    [InlineData("R=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")]
    public void MalformedChallengesAreRejected(string challenge) =>
        AssertRejected("malformed-challenge", () => Started(Rfc5802Mechanism()).EvaluateChallenge(Utf8(challenge)));

    [Fact]
    public void ChallengeThatIsNotUtf8IsRejected() =>
        AssertRejected("malformed-challenge", () => Started(Rfc5802Mechanism()).EvaluateChallenge([0x72, 0x3D, 0xC3, 0x28]));

    [Fact]
    public void MandatoryExtensionIsRejected() =>
        AssertRejected("unsupported-extension", () => Started(Rfc5802Mechanism())
            .EvaluateChallenge(Utf8("m=tls-only," + Rfc5802ServerFirst)));

    [Fact]
    public void OptionalExtensionsAfterTheIterationCountAreIgnored()
    {
        var scram = Started(Rfc5802Mechanism());
        var clientFinal = Text(scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst + ",x=future")));
        Assert.StartsWith("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=", clientFinal, StringComparison.Ordinal);
    }

    [Fact]
    public void SecondChallengeIsRejected()
    {
        var scram = Started(Rfc5802Mechanism());
        scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst));
        AssertRejected("unexpected-challenge", () => scram.EvaluateChallenge(Utf8(Rfc5802ServerFinal)));
    }

    [Fact]
    public void ChallengeAfterARejectedChallengeIsRejected()
    {
        var scram = Started(Rfc5802Mechanism());
        Assert.Throws<XmppAuthenticationException>(() => scram.EvaluateChallenge(Utf8("garbage")));
        AssertRejected("unexpected-challenge", () => scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst)));
    }

    [Theory]
    [InlineData("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")]           // right length, wrong value
    [InlineData("v=rmF9pqV8S7suAoZWja4dJRkFsKQ")]            // truncated (not valid base64)
    [InlineData("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=AAAA")]       // too long
    [InlineData("v=")]
    [InlineData("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")] // the SHA-256 vector's signature
    public void WrongServerSignatureIsRejected(string serverFinal)
    {
        var scram = Started(Rfc5802Mechanism());
        scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst));
        AssertRejected("server-signature-mismatch", () => scram.VerifySuccess(Utf8(serverFinal)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("x=rmF9pqV8S7suAoZWja4dJRkFsKQ=")]
    [InlineData(" v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")]
    public void MissingServerSignatureIsRejected(string? serverFinal)
    {
        var scram = Started(Rfc5802Mechanism());
        scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst));
        AssertRejected("server-signature-mismatch", () => scram.VerifySuccess(serverFinal is null ? null : Utf8(serverFinal)));
    }

    [Fact]
    public void SuccessBeforeTheChallengeIsRejected() =>
        AssertRejected("server-signature-mismatch", () => Started(Rfc5802Mechanism()).VerifySuccess(Utf8(Rfc5802ServerFinal)));

    [Theory]
    [InlineData("e=invalid-proof", "invalid-proof")]
    [InlineData("e=other-error,x=1", "other-error")]
    [InlineData("e=", "other-error")]
    [InlineData("e=bad value", "other-error")]
    public void ServerErrorIsRaisedWithTheServersCondition(string serverFinal, string condition)
    {
        var scram = Started(Rfc5802Mechanism());
        scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst));
        AssertRejected(condition, () => scram.VerifySuccess(Utf8(serverFinal)));
    }

    [Fact]
    public void UsernameIsEscapedAsASaslName()
    {
        var scram = new ScramMechanism(ScramHash.Sha256, new SaslCredentials("a=b,c", "pencil"), clientNonceFactory: () => "nonce");
        Assert.Equal("n,,n=a=3Db=2Cc,r=nonce", Text(scram.GetInitialResponse()));
    }

    [Fact]
    public void AuthorizationIdIsEscapedInTheGs2HeaderAndBoundIntoTheProof()
    {
        var credentials = new SaslCredentials("alice", "pencil", "admin=1,x@example.com");
        var scram = new ScramMechanism(ScramHash.Sha256, credentials, clientNonceFactory: () => "nonce");
        Assert.Equal("n,a=admin=3D1=2Cx@example.com,n=alice,r=nonce", Text(scram.GetInitialResponse()));

        var server = new TestScramServer(ScramHash.Sha256, "pencil", Utf8("salt"), 4096);
        server.Authenticate(new ScramMechanism(ScramHash.Sha256, credentials));
        Assert.Equal("admin=1,x@example.com", server.AuthorizationId);
        Assert.Equal("alice", server.Username);
    }

    [Fact]
    public void EmptyAuthorizationIdMeansNone()
    {
        var scram = new ScramMechanism(ScramHash.Sha1, new SaslCredentials("user", "pencil", ""), clientNonceFactory: () => "n");
        Assert.Equal("n,,n=user,r=n", Text(scram.GetInitialResponse()));
    }

    [Fact]
    public void UsernameAndPasswordArePreparedWithSaslPrep()
    {
        // U+00AD (soft hyphen) maps to nothing, U+2168 (Roman numeral nine) normalises to "IX" under NFKC.
        var credentials = new SaslCredentials("I\u00ADX", "pen\u00ADcil\u2168");
        var scram = new ScramMechanism(ScramHash.Sha256, credentials, clientNonceFactory: () => "nonce");
        Assert.Equal("n,,n=IX,r=nonce", Text(scram.GetInitialResponse()));

        var server = new TestScramServer(ScramHash.Sha256, "pencilIX", Utf8("salt"), 4096);
        server.Authenticate(new ScramMechanism(ScramHash.Sha256, credentials));
    }

    [Theory]
    [InlineData("us\u0007er", "pencil", null)]
    [InlineData("", "pencil", null)]
    [InlineData("\u00AD", "pencil", null)]
    [InlineData("user", "pen\0cil", null)]
    [InlineData("user", "pen\uE000cil", null)]
    [InlineData("user", "", null)]
    [InlineData("user", "pencil", "admin\0")]
    public void CredentialsThatCannotBeSentAreRejectedUpFront(string username, string password, string? authorizationId) =>
        AssertRejected("invalid-credentials", () => new ScramMechanism(ScramHash.Sha256, new SaslCredentials(username, password, authorizationId)));

    [Fact]
    public void PasswordWithAnUnpairedSurrogateIsRejectedUpFront() =>
        AssertRejected("invalid-credentials", () => new ScramMechanism(ScramHash.Sha256, new SaslCredentials("user", "pen\uD800cil")));

    [Fact]
    public void RejectionTextNeverContainsThePassword()
    {
        var exception = AssertRejected("invalid-credentials",
            () => new ScramMechanism(ScramHash.Sha256, new SaslCredentials("user", "s3cret\u0007")));
        Assert.DoesNotContain("s3cret", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonceFactoryOutputMustBePrintableWithoutCommas()
    {
        var scram = new ScramMechanism(ScramHash.Sha256, Pencil, clientNonceFactory: () => "a,b");
        Assert.Throws<InvalidOperationException>(() => scram.GetInitialResponse());
    }

    [Fact]
    public void CallsOutOfOrderAreProgrammingErrors()
    {
        Assert.Throws<InvalidOperationException>(() => Rfc5802Mechanism().EvaluateChallenge(Utf8(Rfc5802ServerFirst)));
        Assert.Throws<InvalidOperationException>(() => Rfc5802Mechanism().VerifySuccess(Utf8(Rfc5802ServerFinal)));

        var scram = Rfc5802Mechanism();
        scram.GetInitialResponse();
        Assert.Throws<InvalidOperationException>(() => scram.GetInitialResponse());
        scram.EvaluateChallenge(Utf8(Rfc5802ServerFirst));
        scram.VerifySuccess(Utf8(Rfc5802ServerFinal));
        Assert.Throws<InvalidOperationException>(() => scram.VerifySuccess(Utf8(Rfc5802ServerFinal)));
    }
}
