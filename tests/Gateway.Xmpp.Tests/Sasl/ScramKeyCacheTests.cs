using System.Text;
using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

public class ScramKeyCacheTests
{
    private static readonly byte[] Salt = Encoding.UTF8.GetBytes("salt");

    [Fact]
    public void RepeatedAttemptsWithTheSameParametersDeriveOnceAndStillAuthenticate()
    {
        var cache = new ScramKeyCache();
        var credentials = new SaslCredentials("user", "pencil");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            // The RFC 5802 vector each time: a wrong (e.g. zeroed) cached key would change the proof.
            var scram = new ScramMechanism(ScramHash.Sha1, credentials, cache, () => "fyko+d2lbbFgONRv9qkxdawL");
            scram.GetInitialResponse();
            var clientFinal = scram.EvaluateChallenge("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"u8.ToArray());
            Assert.EndsWith(",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", Encoding.UTF8.GetString(clientFinal), StringComparison.Ordinal);
            scram.VerifySuccess("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="u8.ToArray());
        }
        Assert.Equal(1, cache.Derivations);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task ConcurrentReconnectsDeriveOnce()
    {
        var cache = new ScramKeyCache();
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            start.Wait(TestContext.Current.CancellationToken);
            var server = new TestScramServer(ScramHash.Sha256, "pencil", Salt, 20_000);
            server.Authenticate(new ScramMechanism(ScramHash.Sha256, new SaslCredentials("user", "pencil"), cache));
        }, TestContext.Current.CancellationToken)).ToArray();
        start.Set();
        await Task.WhenAll(attempts);

        Assert.Equal(1, cache.Derivations);
    }

    [Fact]
    public void ReturnsTheSameKeyAsADirectDerivationAndACopyEachTime()
    {
        var cache = new ScramKeyCache();
        var first = cache.GetSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4096);
        Assert.Equal(ScramKeyCache.DeriveSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4096), first);

        first.AsSpan().Clear();
        Assert.Equal(ScramKeyCache.DeriveSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4096),
            cache.GetSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4096));
        Assert.Equal(1, cache.Derivations);
    }

    [Fact]
    public void AnyDifferentParameterIsADifferentKey()
    {
        var cache = new ScramKeyCache();
        cache.GetSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4096);
        cache.GetSaltedPassword(ScramHash.Sha1, "pencil", Salt, 4096);
        cache.GetSaltedPassword(ScramHash.Sha256, "pencil2", Salt, 4096);
        cache.GetSaltedPassword(ScramHash.Sha256, "pencil", Encoding.UTF8.GetBytes("salt2"), 4096);
        cache.GetSaltedPassword(ScramHash.Sha256, "pencil", Salt, 4097);
        Assert.Equal(5, cache.Derivations);
        Assert.Equal(5, cache.Count);
    }

    [Fact]
    public void IsBoundedAndEvictsTheLeastRecentlyUsedEntry()
    {
        var cache = new ScramKeyCache(capacity: 2);
        cache.GetSaltedPassword(ScramHash.Sha256, "a", Salt, 1);
        cache.GetSaltedPassword(ScramHash.Sha256, "b", Salt, 1);
        cache.GetSaltedPassword(ScramHash.Sha256, "a", Salt, 1); // "a" is now the most recently used
        cache.GetSaltedPassword(ScramHash.Sha256, "c", Salt, 1); // evicts "b"
        Assert.Equal(2, cache.Count);
        Assert.Equal(3, cache.Derivations);

        cache.GetSaltedPassword(ScramHash.Sha256, "a", Salt, 1);
        Assert.Equal(3, cache.Derivations);
        cache.GetSaltedPassword(ScramHash.Sha256, "b", Salt, 1);
        Assert.Equal(4, cache.Derivations);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void ClearForgetsEverything()
    {
        var cache = new ScramKeyCache();
        cache.GetSaltedPassword(ScramHash.Sha256, "a", Salt, 1);
        cache.Clear();
        Assert.Equal(0, cache.Count);
        cache.GetSaltedPassword(ScramHash.Sha256, "a", Salt, 1);
        Assert.Equal(2, cache.Derivations);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void CapacityBelowOneIsRejected(int capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScramKeyCache(capacity));
}
