using Gateway.Xmpp.Client;

namespace Gateway.Xmpp.Tests.Client;

public class ReconnectBackoffTests
{
    [Fact]
    public void DelaysStayBetweenTheInitialDelayAndTheCapAndBackOff()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(42));
        var delays = Enumerable.Range(0, 50).Select(_ => backoff.Next()).ToArray();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)));
        Assert.True(delays.Max() > TimeSpan.FromSeconds(20), "repeated failures should back off far beyond the first delay");
    }

    [Fact]
    public void TwoClientsWithDifferentRandomnessDoNotRetryInLockstep()
    {
        var a = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(1));
        var b = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(2));
        Assert.NotEqual(Enumerable.Range(0, 5).Select(_ => a.Next()), Enumerable.Range(0, 5).Select(_ => b.Next()));
    }

    [Fact]
    public void ResetStartsOverFromTheInitialDelay()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(7));
        for (var i = 0; i < 20; i++) backoff.Next();
        backoff.Reset();
        Assert.InRange(backoff.Next(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
    }
}
