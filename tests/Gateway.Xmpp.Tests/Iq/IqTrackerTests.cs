// The scripted peer bounds every read with its own timeout, so these calls do not take the test's token.
#pragma warning disable xUnit1051
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Xmpp.Tests.Iq;

public class IqTrackerTests
{
    private static readonly Jid Service = Jid.Parse("commands.active-calls.example.com");
    private readonly FakeTimeProvider _time = new();
    private readonly IqTracker _tracker;

    public IqTrackerTests() => _tracker = new IqTracker(_time);

    private IqWaiter Register(string id, CancellationToken ct = default) =>
        _tracker.Register(id, from => from == Service, TimeSpan.FromSeconds(5), ct);

    private static XElement Reply(string id, string type = "result", string from = "commands.active-calls.example.com") =>
        XElement.Parse($"<iq xmlns='jabber:client' type='{type}' id='{id}' from='{from}'/>");

    [Fact]
    public async Task ReplyFromTheAddresseeCompletesTheWaiter()
    {
        var waiter = Register("a1");
        Assert.True(_tracker.TryComplete(Reply("a1")));
        Assert.Equal("a1", (string?)(await waiter.Reply).Attribute("id"));
        Assert.Equal(0, _tracker.Outstanding);
    }

    [Fact]
    public void SpoofedReplyFromAnotherSenderIsIgnoredAndTheWaiterKeepsWaiting()
    {
        var waiter = Register("a1");
        Assert.False(_tracker.TryComplete(Reply("a1", from: "mallory@example.com/x")));
        Assert.False(waiter.Reply.IsCompleted);
        Assert.True(_tracker.TryComplete(Reply("a1")));
        Assert.True(waiter.Reply.IsCompletedSuccessfully);
        Assert.Equal(1, _tracker.UnmatchedReplies);
    }

    [Fact]
    public async Task ErrorReplyFailsWithTheTypedStanzaError()
    {
        var waiter = Register("e1");
        _tracker.TryComplete(XElement.Parse("""
            <iq xmlns='jabber:client' type='error' id='e1' from='commands.active-calls.example.com'>
              <error type='modify' code='400'>
                <bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
                <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Validation Errors; Field 'from' is in an invalid format with value: foo</text>
                <bad-payload xmlns='http://jabber.org/protocol/commands'/>
              </error>
            </iq>
            """));
        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => waiter.Reply);
        Assert.Equal(StanzaErrorType.Modify, error.Error.Type);
        Assert.Equal("bad-request", error.Error.Condition);
        Assert.Equal("bad-payload", error.Error.ApplicationConditionName);
        Assert.Equal(400, error.Error.Code);
        Assert.StartsWith("Validation Errors;", error.Error.Text);
    }

    [Fact]
    public async Task TimeoutWinsWhenNoReplyComesAndALateReplyIsDropped()
    {
        var waiter = Register("t1");
        _time.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<XmppIqTimeoutException>(() => waiter.Reply);
        Assert.False(_tracker.TryComplete(Reply("t1")));
        Assert.Equal(0, _tracker.Outstanding);
    }

    [Fact]
    public async Task DuplicateReplyIsDroppedAfterTheFirstWins()
    {
        var waiter = Register("d1");
        Assert.True(_tracker.TryComplete(Reply("d1")));
        Assert.False(_tracker.TryComplete(Reply("d1", type: "error")));
        await waiter.Reply;
    }

    [Fact]
    public async Task CancellationWinsAndRemovesTheWaiter()
    {
        using var cts = new CancellationTokenSource();
        var waiter = Register("c1", cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.Reply);
        Assert.Equal(0, _tracker.Outstanding);
        Assert.False(_tracker.TryComplete(Reply("c1")));
    }

    [Fact]
    public async Task FailAllFailsEveryPendingRequestAtOnce()
    {
        var waiters = Enumerable.Range(0, 10).Select(i => Register("f" + i)).ToArray();
        _tracker.FailAll(() => new XmppConnectionLostException("stream lost"));
        foreach (var waiter in waiters)
            await Assert.ThrowsAsync<XmppConnectionLostException>(() => waiter.Reply);
        Assert.Equal(0, _tracker.Outstanding);
    }

    [Fact]
    public void IdsAreUnguessableAndUnique()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => IqTracker.NewId()).ToHashSet();
        Assert.Equal(1000, ids.Count);
        Assert.All(ids, id => Assert.Equal(24, id.Length));
    }
}
