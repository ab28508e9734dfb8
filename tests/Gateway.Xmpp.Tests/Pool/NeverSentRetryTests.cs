using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Tests.Pool;

/// <summary>The pool's retry (<see cref="XmppClientPool.SendIqAsync"/>), the one layer that resends an IQ: over scripted
/// connections that count their attempts.</summary>
public sealed class NeverSentRetryTests
{
    private static readonly XElement Result = XElement.Parse("<iq type='result'/>");

    /// <summary>Pooled connections by name; each fails with its scripted exception, or answers when it has none.</summary>
    private sealed class Connections(params string[] names)
    {
        public Dictionary<string, Exception> Failures { get; } = [];
        public List<string> Attempts { get; } = [];

        /// <summary>Like the pool's lease: the first connection not tried yet.</summary>
        public string? Lease(IReadOnlyList<string> tried) => names.FirstOrDefault(n => !tried.Contains(n));

        public Task<XElement> SendAsync(string connection)
        {
            Attempts.Add(connection);
            return Failures.TryGetValue(connection, out var failure) ? Task.FromException<XElement>(failure) : Task.FromResult(Result);
        }

        public Task<XElement> RunAsync() => XmppClientPool.SendOnAnyAsync<string>(Lease, SendAsync);
    }

    private static XmppConnectionLostException NeverSent(string why = "the stream closed before the write") => new(why) { NeverSent = true };

    [Fact]
    public async Task ANeverSentIqIsSentAgainOnTheNextConnectionOnce()
    {
        var pool = new Connections("gw-0", "gw-1", "gw-2");
        pool.Failures["gw-0"] = NeverSent();

        Assert.Same(Result, await pool.RunAsync());

        Assert.Equal(["gw-0", "gw-1"], pool.Attempts);
    }

    [Fact]
    public async Task ANeverSentIqIsTriedOnEveryConnectionExactlyOnceThenFailsAsNeverSent()
    {
        var pool = new Connections("gw-0", "gw-1", "gw-2");
        foreach (var name in new[] { "gw-0", "gw-1", "gw-2" }) pool.Failures[name] = NeverSent("not sent on " + name);

        var error = await Assert.ThrowsAsync<XmppConnectionLostException>(pool.RunAsync);

        Assert.Equal(["gw-0", "gw-1", "gw-2"], pool.Attempts);
        Assert.True(error.NeverSent);
        Assert.Equal("not sent on gw-2", error.Message); // the last connection's own reason
    }

    [Theory]
    [InlineData("the stream died after the write")]
    [InlineData("no answer in time")]
    [InlineData("an error answer")]
    [InlineData("the caller gave up")]
    public async Task AnIqThatMayHaveBeenSentIsNeverSentAgain(string why)
    {
        Exception failure = why switch
        {
            "the stream died after the write" => new XmppConnectionLostException("stream lost"),
            "no answer in time" => new XmppIqTimeoutException("iq1", TimeSpan.FromSeconds(10)),
            "an error answer" => new XmppStanzaErrorException(StanzaError.ServiceUnavailable(), XElement.Parse("<iq type='error'/>")),
            _ => new OperationCanceledException(),
        };
        var pool = new Connections("gw-0", "gw-1");
        pool.Failures["gw-0"] = failure;

        var error = await Assert.ThrowsAnyAsync<Exception>(pool.RunAsync);

        Assert.Same(failure, error);
        Assert.Equal(["gw-0"], pool.Attempts);
    }

    [Fact]
    public async Task WithNoConnectionEstablishedNothingIsSentAndTheErrorSaysNeverSent()
    {
        var pool = new Connections();

        var error = await Assert.ThrowsAsync<XmppConnectionLostException>(pool.RunAsync);

        Assert.Empty(pool.Attempts);
        Assert.True(error.NeverSent);
    }
}
