using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;
using static Gateway.Xmpp.PubSub.PubSubEvent;

namespace Gateway.Xmpp.Tests.PubSub;

public class PubSubEventTests
{
    private static readonly Jid Service = Jid.Parse("pubsub.active-calls.xmpp.onsip.com");

    // The reference doc's "created" fixture (OXJS test/active-calls.js), SHIM header after <event>.
    internal const string CreatedFixture = """
        <message from="pubsub.active-calls.xmpp.onsip.com" to="foo!example.onsip.com@dashboard.onsip.com">
          <event xmlns="http://jabber.org/protocol/pubsub#event">
            <items node="/example.onsip.com/foo">
              <item id="b5879e23d6a92cc11f01a29e466f7bd2">
                <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:22Z">
                  <dialog-state>created</dialog-state>
                  <to-aor/>
                  <call-id>NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.</call-id>
                  <from-uri>sip:foo@example.onsip.com</from-uri>
                  <to-uri>sip:other@example.onsip.com</to-uri>
                  <from-tag>419cce6a</from-tag>
                  <to-tag/>
                  <branch/>
                  <call-setup-id/>
                  <from-display/>
                  <to-display/>
                </active-call>
              </item>
            </items>
          </event>
          <headers xmlns="http://jabber.org/protocol/shim">
            <header name="Collection">/me/foo!example.onsip.com@dashboard.onsip.com</header>
          </headers>
        </message>
        """;

    /// <summary>The doc's envelope around an <c>&lt;item/&gt;</c> (the doc shows only the item for requested/confirmed).</summary>
    internal static XElement Envelope(string itemXml) => XElement.Parse($"""
        <message from="pubsub.active-calls.xmpp.onsip.com" to="foo!example.onsip.com@dashboard.onsip.com">
          <event xmlns="http://jabber.org/protocol/pubsub#event">
            <items node="/example.onsip.com/foo">{itemXml}</items>
          </event>
          <headers xmlns="http://jabber.org/protocol/shim">
            <header name="Collection">/me/foo!example.onsip.com@dashboard.onsip.com</header>
          </headers>
        </message>
        """);

    [Fact]
    public void CreatedFixtureWithTrailingShimHeaderIsOnePublishedItem()
    {
        var published = Assert.IsType<ItemsPublished>(Assert.Single(Parse(XElement.Parse(CreatedFixture))));

        Assert.Equal(Service, published.Service);
        Assert.Equal("/example.onsip.com/foo", published.Node);
        Assert.Equal("/me/foo!example.onsip.com@dashboard.onsip.com", published.Collection);
        Assert.Empty(published.SubIds);
        var item = Assert.Single(published.Items);
        Assert.Equal(("b5879e23d6a92cc11f01a29e466f7bd2", "/example.onsip.com/foo"), (item.Id, item.Node));
        Assert.Equal(Ns.ActiveCalls + "active-call", item.Payload?.Name);
        Assert.Equal("created", item.Payload?.Element(Ns.ActiveCalls + "dialog-state")?.Value);
    }

    [Fact]
    public void HeadersBeforeEventAreRead()
    {
        // After OXJS's testRetractWithLeadingHeaders.
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="foo!example.onsip.com@dashboard.onsip.com">
              <headers xmlns="http://jabber.org/protocol/shim">
                <header name="Collection">/me/foo!example.onsip.com@dashboard.onsip.com</header>
              </headers>
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/example.onsip.com/foo"><retract id="b5879e23d6a92cc11f01a29e466f7bd2"/></items>
              </event>
            </message>
            """);

        var retracted = Assert.IsType<ItemsRetracted>(Assert.Single(Parse(message)));

        Assert.Equal("/me/foo!example.onsip.com@dashboard.onsip.com", retracted.Collection);
        Assert.Equal(["b5879e23d6a92cc11f01a29e466f7bd2"], retracted.ItemIds);
        Assert.Equal("/example.onsip.com/foo", retracted.Node);
    }

    [Theory]
    [InlineData("""
        <item id="6859babae582000ff963b29394ddb4b5">
          <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:22Z">
            <dialog-state>requested</dialog-state>
            <to-aor>foo@example.onsip.com</to-aor>
            <call-id>ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.</call-id>
            <from-uri>sip:other@example.onsip.com</from-uri>
            <to-uri>sip:foo@example.onsip.com</to-uri>
            <from-tag>53498145</from-tag>
            <to-tag/>
            <branch>z9hG4bK7bb6.4c45a015.0</branch>
            <call-setup-id/>
            <from-display/>
            <to-display/>
          </active-call>
        </item>
        """, "6859babae582000ff963b29394ddb4b5", "requested")]
    [InlineData("""
        <item id="b5879e23d6a92cc11f01a29e466f7bd2">
          <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:22Z">
            <dialog-state>confirmed</dialog-state>
            <to-aor>foo@example.onsip.com</to-aor>
            <call-id>ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.</call-id>
            <from-uri>sip:other@example.onsip.com</from-uri>
            <to-uri>sip:foo@example.onsip.com</to-uri>
            <from-tag>53498145</from-tag>
            <to-tag>as11173b9d</to-tag>
            <branch>z9hG4bK7bb6.4c45a015.0</branch>
            <call-setup-id/>
            <from-display>Bert</from-display>
            <to-display>Ernie</to-display>
          </active-call>
        </item>
        """, "b5879e23d6a92cc11f01a29e466f7bd2", "confirmed")]
    public void RequestedAndConfirmedItemsArePublished(string itemXml, string id, string dialogState)
    {
        var published = Assert.IsType<ItemsPublished>(Assert.Single(Parse(Envelope(itemXml))));
        var item = Assert.Single(published.Items);
        Assert.Equal(id, item.Id);
        Assert.Equal(dialogState, item.Payload?.Element(Ns.ActiveCalls + "dialog-state")?.Value);
    }

    [Fact]
    public void ThreeItemsAndTwoRetractsAreAllReportedInDocumentOrder()
    {
        var message = Envelope("""
            <item id="a"><active-call xmlns="onsip:active-calls"><dialog-state>requested</dialog-state></active-call></item>
            <retract id="x"/>
            <item id="b"><active-call xmlns="onsip:active-calls"><dialog-state>requested</dialog-state></active-call></item>
            <item id="c"><active-call xmlns="onsip:active-calls"><dialog-state>confirmed</dialog-state></active-call></item>
            <retract id="y"/>
            """);

        var events = Parse(message);

        var flattened = events.SelectMany(e => e switch
        {
            ItemsPublished p => p.Items.Select(i => "item:" + i.Id),
            ItemsRetracted r => r.ItemIds.Select(id => "retract:" + id),
            _ => throw new InvalidOperationException(e.ToString()),
        });
        Assert.Equal(["item:a", "retract:x", "item:b", "item:c", "retract:y"], flattened);
        Assert.Equal(4, events.Count); // consecutive items b and c are grouped
        Assert.All(events, e => Assert.Equal("/example.onsip.com/foo", e.Node));
        Assert.All(events.OfType<ItemsPublished>(), e => Assert.Equal("/me/foo!example.onsip.com@dashboard.onsip.com", e.Collection));
        Assert.All(events.OfType<ItemsRetracted>(), e => Assert.Equal("/me/foo!example.onsip.com@dashboard.onsip.com", e.Collection));
    }

    [Fact]
    public void ItemNodeOverridesItemsNode()
    {
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/me/foo@example.onsip.com">
                  <item id="1" node="/example.onsip.com/foo"/>
                  <item id="2" node="/example.onsip.com/foo"/>
                  <item id="3" node="/example.onsip.com/bar"/>
                  <retract id="4"/>
                  <retract id="5" node="/example.onsip.com/bar"/>
                </items>
              </event>
            </message>
            """);

        var events = Parse(message);

        Assert.Equal(
            [
                "published /example.onsip.com/foo: 1@/example.onsip.com/foo 2@/example.onsip.com/foo",
                "published /example.onsip.com/bar: 3@/example.onsip.com/bar",
                "retracted /me/foo@example.onsip.com: 4",
                "retracted /example.onsip.com/bar: 5",
            ],
            events.Select(e => e switch
            {
                ItemsPublished p => $"published {p.Node}: " + string.Join(' ', p.Items.Select(i => $"{i.Id}@{i.Node}")),
                ItemsRetracted r => $"retracted {r.Node}: " + string.Join(' ', r.ItemIds),
                _ => e.ToString(),
            }));
    }

    [Fact]
    public void RetractOnlyMessageFromTheGenericFixture()
    {
        var message = XElement.Parse("""
            <message from="pubsub@example.com" to="mock@example.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/"><retract id="item"/></items>
              </event>
            </message>
            """);

        var retracted = Assert.IsType<ItemsRetracted>(Assert.Single(Parse(message)));
        Assert.Equal((Jid.Parse("pubsub@example.com"), "/", "item", (string?)null), (retracted.Service, retracted.Node, Assert.Single(retracted.ItemIds), retracted.Collection));
    }

    [Fact]
    public void SubscriptionNoneIsReported()
    {
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="hiro@example.onsip.com/psi">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <subscription node="/me/hiro@example.onsip.com" subscription="none" jid="hiro@example.onsip.com/psi" subid="548C825398B51"/>
              </event>
            </message>
            """);

        Assert.Equal(
            new SubscriptionChanged(Service, "/me/hiro@example.onsip.com", Jid.Parse("hiro@example.onsip.com/psi"), SubscriptionState.None, "548C825398B51"),
            Assert.Single(Parse(message)));
    }

    [Fact]
    public async Task PendingResultThenSubscribedMessage()
    {
        // The engineer's two-step response: an IQ result saying pending, then an asynchronous "subscribed" message.
        var sender = new PubSubScriptedSender().Reply("""
            <iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5017" to="hiro@example.onsip.com/psi">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription subscription="pending" jid="hiro@example.onsip.com/psi"/>
              </pubsub>
            </iq>
            """);
        var hiro = Jid.Parse("hiro@example.onsip.com/psi");

        var pending = await new PubSubClient(sender).SubscribeAsync(Service, "/me/hiro@example.onsip.com", hiro, null, TestContext.Current.CancellationToken);
        var confirmation = Parse(XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="hiro@example.onsip.com/psi">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <subscription node="/me/hiro@example.onsip.com" subscription="subscribed" jid="hiro@example.onsip.com/psi"/>
              </event>
            </message>
            """));

        Assert.Equal(SubscriptionState.Pending, pending.State);
        var changed = Assert.IsType<SubscriptionChanged>(Assert.Single(confirmation));
        Assert.Equal(new SubscriptionChanged(Service, pending.Node, pending.Jid, SubscriptionState.Subscribed, null), changed);
    }

    [Fact]
    public void NodeDeleteWithRedirect()
    {
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="hiro@example.onsip.com/psi">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <delete node="/example.onsip.com/hiro">
                  <redirect uri="xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/example.onsip.com/hiro2"/>
                </delete>
              </event>
            </message>
            """);

        var deleted = Assert.IsType<NodeDeleted>(Assert.Single(Parse(message)));
        Assert.Equal("/example.onsip.com/hiro", deleted.Node);
        Assert.Equal("xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/example.onsip.com/hiro2", deleted.RedirectUri);
        Assert.Equal(new PubSubAddress(Service, "/example.onsip.com/hiro2"), deleted.RedirectAddress);
    }

    [Fact]
    public void NodeDeleteWithoutRedirectAndPurge()
    {
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event"><delete node="/a/b"/></event>
            </message>
            """);
        var purge = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="/a/b"/></event>
            </message>
            """);

        Assert.Equal(new NodeDeleted(Service, "/a/b", null), Assert.Single(Parse(message)));
        Assert.Null(((NodeDeleted)Parse(message)[0]).RedirectAddress);
        Assert.Equal(new NodePurged(Service, "/a/b"), Assert.Single(Parse(purge)));
    }

    [Fact]
    public void ErrorMessagesAreIgnored()
    {
        var message = XElement.Parse(CreatedFixture);
        message.SetAttributeValue("type", "error");
        Assert.Empty(Parse(message));
    }

    [Theory]
    [InlineData("""<message from="pubsub.active-calls.xmpp.onsip.com"><body>hello</body></message>""")]
    [InlineData("""<message from="pubsub.active-calls.xmpp.onsip.com"><event xmlns="urn:example:not-pubsub"><items node="/a"><item id="1"/></items></event></message>""")]
    [InlineData("""<message><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/a"><item id="1"/></items></event></message>""")]
    [InlineData("""<presence from="pubsub.active-calls.xmpp.onsip.com"><event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="/a"/></event></presence>""")]
    public void NonEventStanzasYieldNothing(string xml) => Assert.Empty(Parse(XElement.Parse(xml)));

    [Fact]
    public void MalformedPartsAreSkippedNotThrown()
    {
        var message = XElement.Parse("""
            <message from="pubsub.active-calls.xmpp.onsip.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items><item id="no-node"/></items>
                <items node="/a"><retract/><item id="ok"/></items>
                <subscription node="/a" subscription="weird" jid="a@b"/>
                <subscription node="/a" subscription="none" jid="a&lt;b@c"/>
              </event>
            </message>
            """);

        var published = Assert.IsType<ItemsPublished>(Assert.Single(Parse(message)));
        Assert.Equal("ok", Assert.Single(published.Items).Id);
    }

    [Fact]
    public void StanzasInTheClientNamespaceWithBodyAndSubIdHeadersAreParsed()
    {
        var message = XElement.Parse("""
            <message xmlns="jabber:client" from="pubsub.active-calls.xmpp.onsip.com" to="foo@example.onsip.com/gw" type="headline">
              <body>An item was published</body>
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/example.onsip.com/foo"><item id="1"/></items>
              </event>
              <headers xmlns="http://jabber.org/protocol/shim">
                <header name="SubID">123-abc</header>
                <header name="SubID">004-yyy</header>
              </headers>
            </message>
            """);

        var published = Assert.IsType<ItemsPublished>(Assert.Single(Parse(message)));
        Assert.Equal(["123-abc", "004-yyy"], published.SubIds);
        Assert.Null(published.Collection);
        Assert.Null(Assert.Single(published.Items).Payload);
    }
}
