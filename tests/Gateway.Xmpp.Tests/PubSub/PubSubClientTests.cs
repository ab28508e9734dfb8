using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.PubSub;

namespace Gateway.Xmpp.Tests.PubSub;

/// <summary>Wire-level tests: requests are compared with the reference doc's samples, replies are the doc's responses.</summary>
public class PubSubClientTests
{
    private static readonly Jid Service = Jid.Parse("pubsub.active-calls.xmpp.onsip.com");
    private static readonly Jid Hiro = Jid.Parse("hiro@example.onsip.com/psi");

    [Fact]
    public async Task SubscribeWithOptionsSendsTheWikiShape()
    {
        var sender = new PubSubScriptedSender().Reply("""
            <iq from="pubsub.active-calls.xmpp.onsip.com" type="result" to="alice@example.com" id="sub1">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription subscription="pending" jid="alice@example.com"/>
              </pubsub>
            </iq>
            """);
        var client = new PubSubClient(sender);

        var subscription = await client.SubscribeAsync(Service, "/me/alice@example.com", Jid.Parse("alice@example.com"),
            new SubscribeOptions
            {
                SubscriptionType = PubSubSubscriptionType.Items,
                Depth = SubscribeOptions.DepthAll,
                Expire = new DateTimeOffset(2010, 11, 2, 22, 0, 0, TimeSpan.Zero),
            }, TestContext.Current.CancellationToken);

        // Verbatim from the Active-Calls_Pubsub wiki page, "Subscribe To JID Level".
        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'>
              <subscribe node='/me/alice@example.com' jid='alice@example.com'/>
              <options>
                <x xmlns='jabber:x:data' type='submit'>
                  <field var='FORM_TYPE' type='hidden'>
                    <value>http://jabber.org/protocol/pubsub#subscribe_options</value>
                  </field>
                  <field var='pubsub#subscription_type'><value>items</value></field>
                  <field var='pubsub#subscription_depth'><value>all</value></field>
                  <field var='pubsub#expire'><value>2010-11-02T22:00:00.0000000Z</value></field>
                </x>
              </options>
            </pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal(Service, sender.Sent[0].To);
        Assert.Equal(IqType.Set, sender.Sent[0].Type);
        Assert.Equal(new Subscription("/me/alice@example.com", Jid.Parse("alice@example.com"), null, SubscriptionState.Pending) { Service = Service }, subscription);
    }

    [Fact]
    public void ExpireIsWrittenInUtcWhateverTheOffset()
    {
        var form = new SubscribeOptions { Expire = new DateTimeOffset(2012, 11, 14, 12, 50, 0, TimeSpan.FromHours(-5)) }.ToForm();
        var value = form.Elements(Ns.DataForms + "field").Single(f => (string?)f.Attribute("var") == "pubsub#expire").Value;
        Assert.Equal("2012-11-14T17:50:00.0000000Z", value);
    }

    [Fact]
    public void DepthOtherThanOneOrAllIsRejected() =>
        Assert.Throws<ArgumentException>(() => new SubscribeOptions { Depth = "2" });

    [Fact]
    public async Task MinimalSubscribeSendsNoOptionsAndReadsThePendingResult()
    {
        var sender = new PubSubScriptedSender().Reply("""
            <iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5017" to="hiro@example.onsip.com/psi">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription subscription="pending" jid="hiro@example.onsip.com/psi"/>
              </pubsub>
            </iq>
            """);

        var subscription = await new PubSubClient(sender).SubscribeAsync(
            Service, "/me/hiro@example.onsip.com", Hiro, null, TestContext.Current.CancellationToken);

        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'>
              <subscribe node='/me/hiro@example.onsip.com' jid='hiro@example.onsip.com/psi'/>
            </pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal("/me/hiro@example.onsip.com", subscription.Node); // not in the reply: filled from the request
        Assert.Equal(Hiro, subscription.Jid);
        Assert.Equal(SubscriptionState.Pending, subscription.State);
        Assert.Null(subscription.SubId);
    }

    [Fact]
    public async Task PendingResultWithNodeAndBareJidIsTakenAsSent()
    {
        // The TAPI driver's logged reply: node present, jid bare although a full JID subscribed.
        var sender = new PubSubScriptedSender().Reply("""
            <iq from="pubsub.active-calls.xmpp.onsip.com" to="username!domain.onsip.com@dashboard.onsip.com/739776732124026405487880" id="uid4" type="result">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription node="/me/username!domain.onsip.com@dashboard.onsip.com" jid="username!domain.onsip.com@dashboard.onsip.com" subscription="pending"/>
              </pubsub>
            </iq>
            """);

        var subscription = await new PubSubClient(sender).SubscribeAsync(Service, "/me/username!domain.onsip.com@dashboard.onsip.com",
            Jid.Parse("username!domain.onsip.com@dashboard.onsip.com/739776732124026405487880"), null, TestContext.Current.CancellationToken);

        Assert.Equal("/me/username!domain.onsip.com@dashboard.onsip.com", subscription.Node);
        Assert.Equal(Jid.Parse("username!domain.onsip.com@dashboard.onsip.com"), subscription.Jid);
        Assert.Equal(SubscriptionState.Pending, subscription.State);
    }

    [Fact]
    public async Task EmptySubscribeResultMeansSubscribed()
    {
        var sender = new PubSubScriptedSender().Reply("<iq type='result' id='s2' from='pubsub.active-calls.xmpp.onsip.com'/>");
        var subscription = await new PubSubClient(sender).SubscribeAsync(Service, "/example.onsip.com/hiro", Hiro, null, TestContext.Current.CancellationToken);
        Assert.Equal(new Subscription("/example.onsip.com/hiro", Hiro, null, SubscriptionState.Subscribed) { Service = Service }, subscription);
    }

    [Fact]
    public async Task SubscriptionsListWithoutNodeIsFilledFromTheRequest()
    {
        var sender = new PubSubScriptedSender().Reply("""
            <iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5016" to="hiro@example.onsip.com/psi">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscriptions>
                  <subscription subscription="subscribed" subid="548C825398B51" jid="hiro@example.onsip.com/psi"/>
                </subscriptions>
              </pubsub>
            </iq>
            """);

        var list = await new PubSubClient(sender).GetSubscriptionsAsync(Service, "/me/hiro@example.onsip.com", TestContext.Current.CancellationToken);

        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions node='/me/hiro@example.onsip.com'/></pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal(IqType.Get, sender.Sent[0].Type);
        Assert.Equal(
            new Subscription("/me/hiro@example.onsip.com", Hiro, "548C825398B51", SubscriptionState.Subscribed) { Service = Service },
            Assert.Single(list));
    }

    [Fact]
    public async Task ServiceWideSubscriptionsKeepEachEntrysNodeAndSkipEntriesWithoutOne()
    {
        var sender = new PubSubScriptedSender().Reply("""
            <iq type="result" id="l2" from="pubsub.active-calls.xmpp.onsip.com">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscriptions>
                  <subscription node="/me/hiro@example.onsip.com" subscription="subscribed" subid="A" jid="hiro@example.onsip.com/psi"
                                expiry="2012-11-14T17:50:00Z"/>
                  <subscription node="/example.onsip.com/hiro" subscription="unconfigured" jid="hiro@example.onsip.com/psi"/>
                  <subscription subscription="subscribed" jid="hiro@example.onsip.com/psi"/>
                </subscriptions>
              </pubsub>
            </iq>
            """);

        var list = await new PubSubClient(sender).GetSubscriptionsAsync(Service, null, TestContext.Current.CancellationToken);

        PubSubXml.AssertEqual("<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/></pubsub>", sender.Sent[0].Payload);
        Assert.Collection(list,
            s =>
            {
                Assert.Equal("/me/hiro@example.onsip.com", s.Node);
                Assert.Equal("A", s.SubId);
                Assert.Equal(new DateTimeOffset(2012, 11, 14, 17, 50, 0, TimeSpan.Zero), s.Expiry);
            },
            s => Assert.Equal(("/example.onsip.com/hiro", SubscriptionState.Unconfigured), (s.Node, s.State)));
    }

    [Fact]
    public async Task OptionsRenewSendsTheSubIdAndAnExpireField()
    {
        var sender = new PubSubScriptedSender().Reply(
            """<iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5021" to="hiro@example.onsip.com/psi"/>""");

        var final = await new PubSubClient(sender).SetOptionsAsync(Service, "/me/hiro@example.onsip.com", Hiro, "548C825398B51",
            SubscribeOptions.ForCollection(new DateTimeOffset(2012, 11, 14, 17, 50, 0, TimeSpan.Zero)), TestContext.Current.CancellationToken);

        // The engineer's sample, except that the expiry is XEP-0060's pubsub#expire in ISO-8601 UTC (the sample's
        // pubsub#expires carried a JavaScript Date.toString()).
        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'>
              <options node='/me/hiro@example.onsip.com' jid='hiro@example.onsip.com/psi' subid='548C825398B51'>
                <x xmlns='jabber:x:data' type='submit'>
                  <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>
                  <field var='pubsub#subscription_type'><value>items</value></field>
                  <field var='pubsub#subscription_depth'><value>all</value></field>
                  <field var='pubsub#expire'><value>2012-11-14T17:50:00.0000000Z</value></field>
                </x>
              </options>
            </pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal(IqType.Set, sender.Sent[0].Type);
        Assert.Equal(new PubSubAddress(Service, "/me/hiro@example.onsip.com"), final);
    }

    [Fact]
    public async Task UnsubscribeSendsTheSampleShape()
    {
        var sender = new PubSubScriptedSender().Reply("""<iq type="result" id="unsub1" from="pubsub.active-calls.xmpp.onsip.com"/>""");

        await new PubSubClient(sender).UnsubscribeAsync(Service, "/me/hiro@example.onsip.com", Hiro, "548C825398B51", TestContext.Current.CancellationToken);

        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'>
              <unsubscribe node='/me/hiro@example.onsip.com' subid="548C825398B51" jid="hiro@example.onsip.com/psi"/>
            </pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal((Service, IqType.Set), (sender.Sent[0].To, sender.Sent[0].Type));
    }

    [Fact]
    public async Task ItemsAreFetchedWithTheirNodesAndPayloads()
    {
        // No real items response is known; this is the XEP-0060 shape with the doc's active-call fixture as payload.
        var sender = new PubSubScriptedSender().Reply("""
            <iq type="result" id="items1" from="pubsub.active-calls.xmpp.onsip.com">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <items node="/example.onsip.com/foo">
                  <item id="b5879e23d6a92cc11f01a29e466f7bd2">
                    <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:22Z">
                      <dialog-state>created</dialog-state>
                      <call-id>NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.</call-id>
                    </active-call>
                  </item>
                  <item id="6859babae582000ff963b29394ddb4b5" node="/example.onsip.com/bar"/>
                </items>
              </pubsub>
            </iq>
            """);

        var items = await new PubSubClient(sender).GetItemsAsync(Service, "/example.onsip.com/foo", 10, TestContext.Current.CancellationToken);

        PubSubXml.AssertEqual("""
            <pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='/example.onsip.com/foo' max_items='10'/></pubsub>
            """, Assert.Single(sender.Sent).Payload);
        Assert.Equal(IqType.Get, sender.Sent[0].Type);
        Assert.Collection(items,
            item =>
            {
                Assert.Equal(("b5879e23d6a92cc11f01a29e466f7bd2", "/example.onsip.com/foo"), (item.Id, item.Node));
                Assert.Equal(Ns.ActiveCalls + "active-call", item.Payload?.Name);
                Assert.Null(item.Payload?.Parent); // detached from the reply
            },
            item => Assert.Equal(("6859babae582000ff963b29394ddb4b5", "/example.onsip.com/bar", (XElement?)null), (item.Id, item.Node, item.Payload)));
    }

    [Fact]
    public async Task GoneAndRedirectAreFollowedAndTheFinalNodeReported()
    {
        var sender = new PubSubScriptedSender()
            .Reply("""
                <iq type="error" id="r1" from="pubsub.active-calls.xmpp.onsip.com">
                  <error type="modify"><redirect xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/me/hiro@example.onsip.com</redirect></error>
                </iq>
                """)
            .Reply("""
                <iq type="error" id="r2" from="pubsub.active-calls.xmpp.onsip.com">
                  <error type="cancel"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:pubsub2.example.com?;node=%2Fme%2Fhiro%40example.onsip.com%2Fexample.onsip.com</gone></error>
                </iq>
                """)
            .Reply("""
                <iq type="result" id="r3" from="pubsub2.example.com">
                  <pubsub xmlns="http://jabber.org/protocol/pubsub"><subscription subscription="pending" jid="hiro@example.onsip.com/psi"/></pubsub>
                </iq>
                """);

        var subscription = await new PubSubClient(sender).SubscribeAsync(Service, "/", Hiro, null, TestContext.Current.CancellationToken);

        Assert.Equal(
            [(Service, "/"), (Service, "/me/hiro@example.onsip.com"), (Jid.Parse("pubsub2.example.com"), "/me/hiro@example.onsip.com/example.onsip.com")],
            sender.Sent.Select(s => (s.To, (string?)s.Payload.Element(Ns.PubSub + "subscribe")?.Attribute("node"))));
        Assert.Equal("/me/hiro@example.onsip.com/example.onsip.com", subscription.Node);
        Assert.Equal(Jid.Parse("pubsub2.example.com"), subscription.Service);
        Assert.Equal(SubscriptionState.Pending, subscription.State);
    }

    [Fact]
    public async Task TheSixthRedirectIsRefused()
    {
        var sender = new PubSubScriptedSender();
        for (var i = 1; i <= 6; i++)
        {
            sender.Reply($"""
                <iq type="error" id="r{i}"><error type="modify"><redirect xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/hop{i}</redirect></error></iq>
                """);
        }

        var ex = await Assert.ThrowsAsync<PubSubRedirectLimitException>(() =>
            new PubSubClient(sender).GetItemsAsync(Service, "/", null, TestContext.Current.CancellationToken));

        Assert.Equal(6, sender.Sent.Count); // the original request and five redirected ones
        Assert.Equal(["/", "/hop1", "/hop2", "/hop3", "/hop4", "/hop5"], sender.Sent.Select(s => (string?)s.Payload.Element(Ns.PubSub + "items")?.Attribute("node")));
        Assert.Equal(5, ex.Hops.Count);
        Assert.Equal(new PubSubAddress(Service, "/"), ex.Requested);
        Assert.IsType<XmppStanzaErrorException>(ex.InnerException);
    }

    [Fact]
    public async Task RedirectWithoutNodeKeepsTheNode()
    {
        var sender = new PubSubScriptedSender()
            .Reply("""<iq type="error" id="a"><error type="modify"><redirect xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:other.example.com</redirect></error></iq>""")
            .Reply("""<iq type="result" id="b"/>""");

        var final = await new PubSubClient(sender).UnsubscribeAsync(Service, "/me/hiro@example.onsip.com", Hiro, null, TestContext.Current.CancellationToken);

        Assert.Equal(new PubSubAddress(Jid.Parse("other.example.com"), "/me/hiro@example.onsip.com"), final);
        Assert.Equal(Jid.Parse("other.example.com"), sender.Sent[1].To);
    }

    [Theory]
    [InlineData("""<error type="cancel"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>""", "gone")]
    [InlineData("""<error type="modify"><redirect xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">http://example.com/</redirect></error>""", "redirect")]
    [InlineData("""<error type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>""", "not-authorized")]
    public async Task OtherErrorsAndUnusableRedirectsPropagate(string error, string condition)
    {
        var sender = new PubSubScriptedSender().Reply($"""<iq type="error" id="e">{error}</iq>""");

        var ex = await Assert.ThrowsAsync<XmppStanzaErrorException>(() =>
            new PubSubClient(sender).SubscribeAsync(Service, "/me/hiro@example.onsip.com", Hiro, null, TestContext.Current.CancellationToken));

        Assert.Equal(condition, ex.Error.Condition);
        Assert.Single(sender.Sent);
    }

    [Theory]
    [InlineData("xmpp:pubsub.example.com?;node=princely_musings", "pubsub.example.com", "princely_musings")]
    [InlineData("xmpp:pubsub.example.com?pubsub;action=subscribe;node=a%20b", "pubsub.example.com", "a b")]
    [InlineData("xmpp:pubsub.example.com?;node=/me/foo!example.onsip.com@dashboard.onsip.com", "pubsub.example.com", "/me/foo!example.onsip.com@dashboard.onsip.com")]
    [InlineData("XMPP:PubSub.Example.com?;node=a%2Bb+c#frag", "pubsub.example.com", "a+b+c")]
    [InlineData("xmpp://guest@example.com/pubsub.example.com?;node=x", "pubsub.example.com", "x")]
    [InlineData("xmpp:pubsub.example.com", "pubsub.example.com", null)]
    [InlineData("xmpp:pubsub.example.com?;node=", "pubsub.example.com", null)]
    public void XmppUrisAreParsedPerXep0147(string uri, string service, string? node)
    {
        Assert.True(PubSubAddress.TryParseXmppUri(uri, out var address));
        Assert.Equal(new PubSubAddress(Jid.Parse(service), node), address);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("http://pubsub.example.com/?;node=x")]
    [InlineData("xmpp:")]
    [InlineData("xmpp:?;node=x")]
    [InlineData("xmpp://guest@example.com")]
    public void NonXmppUrisAreRejected(string? uri) => Assert.False(PubSubAddress.TryParseXmppUri(uri, out _));

    [Fact]
    public void XmppUriRoundTrips()
    {
        var address = new PubSubAddress(Service, "/me/foo!example.onsip.com@dashboard.onsip.com;x=1 2");
        Assert.Equal("xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/me/foo!example.onsip.com@dashboard.onsip.com%3Bx%3D1%202", address.ToXmppUri());
        Assert.True(PubSubAddress.TryParseXmppUri(address.ToXmppUri(), out var back));
        Assert.Equal(address, back);
    }
}
