using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.PubSub;

namespace Gateway.Xmpp.Tests.PubSub;

/// <summary>A stand-in for the reader loop: runs each subscription's filter on delivery, as the real source does.</summary>
internal sealed class PubSubFakeStanzaSource : IStanzaSource
{
    private readonly List<StanzaSubscription> _subscriptions = [];

    public int ActiveSubscriptions => _subscriptions.Count;

    public StanzaSubscription Subscribe(Func<XElement, bool> filter, int capacity = 1024)
    {
        var subscription = new StanzaSubscription(filter, capacity, s => _subscriptions.Remove(s));
        _subscriptions.Add(subscription);
        return subscription;
    }

    /// <returns>How many subscriptions accepted the stanza.</returns>
    public async Task<int> DeliverAsync(string xml)
    {
        var stanza = XElement.Parse(xml);
        var accepted = 0;
        foreach (var subscription in _subscriptions.ToArray())
        {
            if (!subscription.Filter(stanza)) continue;
            accepted++;
            await subscription.Writer.WriteAsync(stanza);
        }
        return accepted;
    }
}

public class PubSubEventReaderTests
{
    private static readonly Jid Service = Jid.Parse("pubsub.active-calls.xmpp.onsip.com");

    [Fact]
    public async Task EventsFromTheServiceAreReadInOrderAndEverythingElseIsFilteredOut()
    {
        var source = new PubSubFakeStanzaSource();
        using var reader = new PubSubEventReader(source, Service);

        int[] accepted =
        [
            await source.DeliverAsync(PubSubEventTests.CreatedFixture),
            // a body alone is not an event, even from the service
            await source.DeliverAsync("""<message from="pubsub.active-calls.xmpp.onsip.com"><body>hi</body></message>"""),
            // another service's events
            await source.DeliverAsync("""<message from="pubsub.user-agents.xmpp.onsip.com"><event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="/a"/></event></message>"""),
            // a look-alike element in another namespace
            await source.DeliverAsync("""<message from="pubsub.active-calls.xmpp.onsip.com"><event><purge node="/a"/></event></message>"""),
            // error messages
            await source.DeliverAsync("""<message type="error" from="pubsub.active-calls.xmpp.onsip.com"><event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="/a"/></event></message>"""),
            // presence
            await source.DeliverAsync("""<presence from="pubsub.active-calls.xmpp.onsip.com"><event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="/a"/></event></presence>"""),
            // routed by namespace: a body next to the event does not matter; from with a resource and other case is the same domain
            await source.DeliverAsync("""
                <message xmlns="jabber:client" from="PubSub.Active-Calls.xmpp.onsip.com/x" type="headline"><body>Retracted</body>
                  <event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/example.onsip.com/foo"><retract id="b5879e23d6a92cc11f01a29e466f7bd2"/></items></event>
                </message>
                """),
        ];
        reader.Dispose();

        Assert.Equal([1, 0, 0, 0, 0, 0, 1], accepted);
        var events = new List<PubSubEvent>();
        await foreach (var e in reader.ReadAllAsync(TestContext.Current.CancellationToken)) events.Add(e);
        Assert.Collection(events,
            e => Assert.Equal("b5879e23d6a92cc11f01a29e466f7bd2", Assert.Single(Assert.IsType<PubSubEvent.ItemsPublished>(e).Items).Id),
            e => Assert.Equal("b5879e23d6a92cc11f01a29e466f7bd2", Assert.Single(Assert.IsType<PubSubEvent.ItemsRetracted>(e).ItemIds)));
    }

    [Fact]
    public async Task DisposeUnsubscribesAndCompletesAPendingRead()
    {
        var source = new PubSubFakeStanzaSource();
        var reader = new PubSubEventReader(source, Service);
        Assert.Equal(1, source.ActiveSubscriptions);

        var reading = Task.Run(async () =>
        {
            var count = 0;
            await foreach (var _ in reader.ReadAllAsync(TestContext.Current.CancellationToken)) count++;
            return count;
        }, TestContext.Current.CancellationToken);
        await source.DeliverAsync(PubSubEventTests.CreatedFixture);
        reader.Dispose();

        Assert.Equal(1, await reading.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        Assert.Equal(0, source.ActiveSubscriptions);
    }

    [Fact]
    public async Task ReadingStopsWhenCancelled()
    {
        var source = new PubSubFakeStanzaSource();
        using var reader = new PubSubEventReader(source, Service);
        using var cts = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in reader.ReadAllAsync(cts.Token)) { }
        }, TestContext.Current.CancellationToken);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("pubsub.active-calls.xmpp.onsip.com", true)]
    [InlineData("pubsub.active-calls.xmpp.onsip.com/res", true)]
    [InlineData("PUBSUB.active-calls.xmpp.onsip.com", true)]
    [InlineData("mallory@pubsub.active-calls.xmpp.onsip.com/res", false)]
    [InlineData("mallory@example.onsip.com/psi", false)]
    [InlineData("evil.pubsub.active-calls.xmpp.onsip.com", false)]
    [InlineData("pubsub.active-calls.xmpp.onsip.com.evil", false)]
    [InlineData("pubsub.active-calls.xmpp.onsip.com@evil.example.com", false)]
    public void OnlyTheServiceItselfMaySendEvents(string from, bool expected)
    {
        var message = new XElement(Ns.Client + "message", new XAttribute("from", from), new XElement(Ns.PubSubEvent + "event"));
        Assert.Equal(expected, PubSubEventReader.IsEventFrom(message, Service.Bare.ToString()));
    }
}
