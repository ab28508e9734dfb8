using Gateway.Xmpp.Core;
using Gateway.Xmpp.Transport;

namespace Gateway.Xmpp.Tests.Transport;

/// <summary>RFC 6120 §3.2.1 with RFC 2782's order: where a client connects when only a domain is configured.</summary>
public sealed class SrvLocatorTests
{
    private sealed class FakeResolver(params SrvRecord[] records) : ISrvResolver
    {
        public string? AskedFor { get; private set; }

        public Task<IReadOnlyList<SrvRecord>> ResolveAsync(string name, CancellationToken cancellationToken)
        {
            AskedFor = name;
            return Task.FromResult<IReadOnlyList<SrvRecord>>(records);
        }
    }

    /// <summary>A "random" source that answers the given draws in turn, recording the bound (the weight sum) of each.</summary>
    private sealed class Draws(params int[] values)
    {
        private int _next;
        public List<int> Bounds { get; } = [];

        public int Next(int max)
        {
            Bounds.Add(max);
            return values[_next++];
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheClientServiceRecordsOfTheDomainAreAskedFor()
    {
        var resolver = new FakeResolver(new SrvRecord("xmpp.example.com", 5222, 0, 0));

        var targets = await new SrvLocator(resolver).LocateAsync("example.com", Ct);

        Assert.Equal("_xmpp-client._tcp.example.com", resolver.AskedFor);
        Assert.Equal([("xmpp.example.com", 5222)], targets);
    }

    [Fact]
    public async Task WithoutRecordsTheDomainItselfIsTriedOnPort5222()
    {
        var targets = await new SrvLocator(new FakeResolver()).LocateAsync("example.com", Ct);

        Assert.Equal([("example.com", 5222)], targets);
    }

    [Fact]
    public async Task ASingleDotTargetMeansTheDomainOffersNoService()
    {
        var locator = new SrvLocator(new FakeResolver(new SrvRecord(".", 0, 0, 0)));

        var error = await Assert.ThrowsAsync<XmppConnectionLostException>(() => locator.LocateAsync("example.com", Ct));
        Assert.Contains("no XMPP client service", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LowerPriorityComesFirstWhateverTheWeight()
    {
        var draws = new Draws(0, 0, 0);
        var ordered = new SrvLocator(new FakeResolver(), draws.Next).Order(
        [
            new SrvRecord("backup.example.com", 5222, 20, 100),
            new SrvRecord("primary.example.com", 5222, 10, 0),
            new SrvRecord("third.example.com", 5269, 30, 5),
        ]);

        Assert.Equal(["primary.example.com", "backup.example.com", "third.example.com"], ordered.Select(r => r.Target));
    }

    [Fact]
    public void WithinAPriorityTheDrawPicksByRunningWeightSumAndTheRestFollowInTurn()
    {
        // Weights 10, 30, 60 (sum 100). A draw of 41 passes a (10) and b (40) and lands on c (100); then among a and b
        // (sum 40) a draw of 10 lands on a (10); b is left.
        var draws = new Draws(41, 10, 0);
        var ordered = new SrvLocator(new FakeResolver(), draws.Next).Order(
        [
            new SrvRecord("a", 5222, 0, 10),
            new SrvRecord("b", 5222, 0, 30),
            new SrvRecord("c", 5222, 0, 60),
        ]);

        Assert.Equal(["c", "a", "b"], ordered.Select(r => r.Target));
        Assert.Equal([100, 40, 30], draws.Bounds);
    }

    [Fact]
    public void AZeroWeightRecordIsPickedFirstOnlyOnADrawOfZero()
    {
        var zeroFirst = new SrvLocator(new FakeResolver(), new Draws(0, 0).Next).Order(
            [new SrvRecord("heavy", 5222, 0, 50), new SrvRecord("zero", 5222, 0, 0)]);
        var zeroLast = new SrvLocator(new FakeResolver(), new Draws(1, 0).Next).Order(
            [new SrvRecord("heavy", 5222, 0, 50), new SrvRecord("zero", 5222, 0, 0)]);

        Assert.Equal(["zero", "heavy"], zeroFirst.Select(r => r.Target));
        Assert.Equal(["heavy", "zero"], zeroLast.Select(r => r.Target));
    }
}
