using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.Tests.PubSub;

/// <summary>Subscribe, list, configure and unsubscribe, fed the reference document's requests (§4.3).</summary>
public sealed class SubscriptionTests : IDisposable
{
    private readonly PubSubTestBed _bed = new();

    public void Dispose() => _bed.Dispose();

    /// <summary>§4.3 "Subscribe To JID Level", verbatim from the wiki.</summary>
    private const string WikiSubscribe = """
        <iq type='set' id='sub1'
            from='alice@example.com' to='pubsub.active-calls.xmpp.onsip.com'
            xmlns='jabber:client'>
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
        </iq>
        """;

    [Fact]
    public async Task TheWikiSubscribeIsAnsweredPendingAndThenConfirmedByASubscribedMessage()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        var reply = await _bed.RequestAsync(WikiSubscribe, "alice@example.com");

        var subId = (string)reply.Descendants(Ns.PubSub + "subscription").Single().Attribute("subid")!;
        Assert.Matches("^[0-9A-F]{16}$", subId);
        XmlAssert.Equivalent($"""
            <iq type="result" id="sub1" to="alice@example.com" from="pubsub.active-calls.xmpp.onsip.com">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription node="/me/alice@example.com" jid="alice@example.com" subscription="pending" subid="{subId}" expiry="2010-11-02T22:00:00Z"/>
              </pubsub>
            </iq>
            """, reply);
        // The result first, then the confirmation, as the component's stream writes them.
        Assert.Equal([reply, _bed.Stream.Messages.Single()], _bed.Stream.Written);
        XmlAssert.Equivalent($"""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="alice@example.com">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <subscription node="/me/alice@example.com" jid="alice@example.com" subscription="subscribed" subid="{subId}" expiry="2010-11-02T22:00:00Z"/>
              </event>
            </message>
            """, _bed.Stream.Messages.Single());
        var subscription = _bed.PubSub.Subscriptions.Single();
        Assert.Equal(new SubscriptionSettings(true, "all", PubSubTestBed.Start.AddHours(1)), subscription.Settings);
    }

    [Fact]
    public async Task TheMinimalSubscribeOfSampleBConfirmsToTheFullJid()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);

        var reply = await _bed.RequestAsync("""
            <iq to='pubsub.active-calls.xmpp.onsip.com' type='set' id='5017' xmlns='jabber:client'>
              <pubsub xmlns='http://jabber.org/protocol/pubsub'>
                <subscribe node='/me/hiro@example.onsip.com' jid='hiro@example.onsip.com/psi'/>
              </pubsub>
            </iq>
            """, "hiro@example.onsip.com/psi");

        var pending = reply.Descendants(Ns.PubSub + "subscription").Single();
        Assert.Equal(("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi", "pending"),
            ((string?)pending.Attribute("node"), (string?)pending.Attribute("jid"), (string?)pending.Attribute("subscription")));
        var events = PubSubEvent.Parse(_bed.Stream.Messages.Single());
        var confirmed = Assert.IsType<PubSubEvent.SubscriptionChanged>(Assert.Single(events));
        Assert.Equal(("hiro@example.onsip.com/psi", SubscriptionState.Subscribed, (string?)pending.Attribute("subid")), (confirmed.Jid.ToString(), confirmed.State, confirmed.SubId));
        Assert.Equal("hiro@example.onsip.com/psi", (string?)_bed.Stream.Messages.Single().Attribute("to"));
        // No options: XEP-0248's depth 1 and the longest lease.
        Assert.Equal(new SubscriptionSettings(true, "1", PubSubTestBed.Start.AddHours(24)), _bed.PubSub.Subscriptions.Single().Settings);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("")]
    public async Task SubscribingToTheRootRedirectsToTheRequestersCollection(string node)
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe(node, "alice@example.com/web"), "alice@example.com/web");

        XmlAssert.Equivalent("""
            <error type="modify">
              <redirect xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:pubsub.active-calls.xmpp.onsip.com?;node=/me/alice@example.com</redirect>
            </error>
            """, reply.Element("error")!);
        Assert.Empty(_bed.PubSub.Subscriptions);
    }

    [Fact]
    public async Task OurPubSubClientFollowsTheRedirectToTheCollection()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var client = new PubSubClient(_bed.Stream.ClientAt(Jid.Parse("alice@example.com/web")));

        var subscription = await client.SubscribeAsync(Jid.Parse(PubSubTestBed.Service), "/", Jid.Parse("alice@example.com/web"),
            SubscribeOptions.ForCollection(PubSubTestBed.Start.AddMinutes(30)), TestContext.Current.CancellationToken);

        Assert.Equal(("/me/alice@example.com", SubscriptionState.Pending), (subscription.Node, subscription.State));
        Assert.Equal(PubSubTestBed.Start.AddMinutes(30), subscription.Expiry);
    }

    [Fact]
    public async Task AnotherJidsCollectionIsForbidden()
    {
        _bed.Authorize("mallory@example.com", TestUsers.Bob);

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe("/me/alice@example.com", "mallory@example.com"), "mallory@example.com/x");

        var error = StanzaError.FromStanza(reply);
        Assert.Equal((StanzaErrorType.Auth, "forbidden"), (error.Type, error.Condition));
    }

    [Theory]
    [InlineData("/me/carol@example.com")]
    [InlineData("/example.com/alice")]
    public async Task AJidWithoutAuthorisationIsForbidden(string node)
    {
        _bed.Authorize("alice@example.com", TestUsers.Bob); // authorised, but not for alice's address

        var forLeaf = await _bed.RequestAsync(PubSubTestBed.Subscribe("/example.com/alice", "alice@example.com"), "alice@example.com/x");
        var unauthorised = await _bed.RequestAsync(PubSubTestBed.Subscribe(node, "carol@example.com"), "carol@example.com/x");

        Assert.Equal("forbidden", StanzaError.FromStanza(forLeaf).Condition);
        Assert.Equal("forbidden", StanzaError.FromStanza(unauthorised).Condition);
        Assert.Contains("authorize-plain", StanzaError.FromStanza(unauthorised).Text, StringComparison.Ordinal);
        Assert.Empty(_bed.PubSub.Subscriptions);
    }

    [Fact]
    public async Task ASubscriptionForSomeoneElsesJidIsInvalidJid()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe("/me/alice@example.com", "bob@example.com/x"), "alice@example.com/x");

        var error = StanzaError.FromStanza(reply);
        Assert.Equal((StanzaErrorType.Modify, "bad-request"), (error.Type, error.Condition));
        Assert.Equal(Ns.PubSubErrors + "invalid-jid", error.ApplicationCondition);
    }

    [Theory]
    [InlineData("/example.com/nobody")]
    [InlineData("/example.com")]
    [InlineData("/me/alice@example.com/example.com")]
    public async Task ANodeThatIsNoneOfOursIsItemNotFound(string node)
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe(node, "alice@example.com"), "alice@example.com/x");

        Assert.Equal("item-not-found", StanzaError.FromStanza(reply).Condition);
    }

    [Fact]
    public async Task TheEleventhSubscriptionOfAJidToANodeIsRefused()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        for (var i = 0; i < 10; i++)
            await _bed.SubscribeAsync("/me/alice@example.com", $"alice@example.com/r{i}");

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe("/me/alice@example.com", "alice@example.com/r10"), "alice@example.com/r10");

        XmlAssert.Equivalent("""
            <error type="wait">
              <policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
              <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">JID 'alice@example.com' already holds 10 subscriptions to '/me/alice@example.com', the most allowed; reuse one (options) or unsubscribe.</text>
              <too-many-subscriptions xmlns="http://jabber.org/protocol/pubsub#errors"/>
            </error>
            """, reply.Element("error")!);
        Assert.Equal(10, _bed.PubSub.Subscriptions.Count);
        // Another node has its own allowance.
        await _bed.SubscribeAsync("/example.com/alice", "alice@example.com/r10");
    }

    [Fact]
    public async Task SubscribingAgainWithTheSameJidRenewsTheSameSubscription()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var first = await _bed.SubscribeAsync("/me/alice@example.com", "alice@example.com/web", PubSubTestBed.DepthAll);
        _bed.Time.Advance(TimeSpan.FromMinutes(50));

        var second = await _bed.SubscribeAsync("/me/alice@example.com", "alice@example.com/web",
            PubSubTestBed.OptionsForm(("pubsub#expire", "2010-11-03T00:00:00Z")));

        Assert.Equal(first, second);
        var subscription = _bed.PubSub.Subscriptions.Single();
        Assert.Equal(new SubscriptionSettings(true, "all", new DateTimeOffset(2010, 11, 3, 0, 0, 0, TimeSpan.Zero)), subscription.Settings);
    }

    [Theory]
    [InlineData("pubsub#expire", "2010-11-02T21:30:00Z", 30)]
    [InlineData("pubsub#expires", "2010-11-02T21:30:00.0000000Z", 30)]
    [InlineData("pubsub#expire", "2010-11-02T17:30:00-04:00", 30)]
    [InlineData("pubsub#expire", "2010-11-09T21:00:00Z", 24 * 60)]
    [InlineData("pubsub#expires", "Wed Nov 14 2012 12:50:00 GMT-0500 (EST)", 24 * 60)]
    [InlineData("pubsub#expire", "presence", 24 * 60)]
    public async Task TheLeaseIsTheRequestedExpiryCappedAtTheLongestAndUnreadableValuesGetTheLongest(string var, string value, int minutes)
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        await _bed.SubscribeAsync("/example.com/alice", "alice@example.com", PubSubTestBed.OptionsForm((var, value)));

        Assert.Equal(PubSubTestBed.Start.AddMinutes(minutes), _bed.PubSub.Subscriptions.Single().Expires);
    }

    [Fact]
    public async Task AnExpiryInThePastIsNotAcceptable()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe("/example.com/alice", "alice@example.com",
            PubSubTestBed.OptionsForm(("pubsub#expire", "2010-11-02T20:59:59Z"))), "alice@example.com");

        Assert.Equal((StanzaErrorType.Modify, "not-acceptable"), (StanzaError.FromStanza(reply).Type, StanzaError.FromStanza(reply).Condition));
    }

    [Theory]
    [InlineData("pubsub#subscription_type", "nodes")]
    [InlineData("pubsub#subscription_depth", "2")]
    [InlineData("pubsub#deliver", "maybe")]
    [InlineData("FORM_TYPE", "urn:example:other")]
    public async Task OptionsTheServiceCannotHonourAreInvalidOptions(string var, string value)
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var form = $"<x xmlns='jabber:x:data' type='submit'><field var='{var}'><value>{value}</value></field></x>";

        var reply = await _bed.RequestAsync(PubSubTestBed.Subscribe("/me/alice@example.com", "alice@example.com", form), "alice@example.com");

        var error = StanzaError.FromStanza(reply);
        Assert.Equal(("bad-request", Ns.PubSubErrors + "invalid-options"), (error.Condition, error.ApplicationCondition));
    }

    [Fact]
    public async Task SubscriptionsAreListedAsSampleBShowsThemWithoutNodeAttributes()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);
        var subId = await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi");
        await _bed.SubscribeAsync("/example.onsip.com/hiro", "hiro@example.onsip.com/psi");

        var reply = await _bed.RequestAsync("""
            <iq to='pubsub.active-calls.xmpp.onsip.com' type='get' id='5016' xmlns='jabber:client'>
              <pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions node='/me/hiro@example.onsip.com'/></pubsub>
            </iq>
            """, "hiro@example.onsip.com/psi");

        XmlAssert.Equivalent($"""
            <iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5016" to="hiro@example.onsip.com/psi">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscriptions>
                  <subscription subscription="subscribed" subid="{subId}" jid="hiro@example.onsip.com/psi" expiry="2010-11-03T21:00:00Z"/>
                </subscriptions>
              </pubsub>
            </iq>
            """, reply);
    }

    [Fact]
    public async Task OurPubSubClientListsEveryResourcesSubscriptionsServiceWide()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);
        await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi");
        await _bed.SubscribeAsync("/example.onsip.com/hiro", "hiro@example.onsip.com/phone");
        var client = new PubSubClient(_bed.Stream.ClientAt(Jid.Parse("hiro@example.onsip.com/psi")));

        var all = await client.GetSubscriptionsAsync(Jid.Parse(PubSubTestBed.Service), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(
            [("/example.onsip.com/hiro", "hiro@example.onsip.com/phone"), ("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi")],
            all.Select(s => (s.Node, s.Jid.ToString())).Order());
    }

    [Fact]
    public async Task SampleBsRenewalByOptionsKeepsTheSubscriptionAndGetsTheLongestLeaseForItsUnreadableDate()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);
        var subId = await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi",
            PubSubTestBed.OptionsForm(("pubsub#expire", "2010-11-02T21:45:00Z")));
        _bed.Time.Advance(TimeSpan.FromMinutes(40));

        var reply = await _bed.RequestAsync($"""
            <iq to='pubsub.active-calls.xmpp.onsip.com' type='set' id='5021' xmlns='jabber:client'>
              <pubsub xmlns='http://jabber.org/protocol/pubsub'>
                <options node='/me/hiro@example.onsip.com' jid='hiro@example.onsip.com/psi' subid='{subId}'>
                  <x xmlns='jabber:x:data' type='submit'>
                    <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>
                    <field var='pubsub#subscription_type'><value>items</value></field>
                    <field var='pubsub#subscription_depth'><value>all</value></field>
                    <field var='pubsub#expires'><value>Wed Nov 14 2012 12:50:00 GMT-0500 (EST)</value></field>
                  </x>
                </options>
              </pubsub>
            </iq>
            """, "hiro@example.onsip.com/psi");

        XmlAssert.Equivalent("""<iq from="pubsub.active-calls.xmpp.onsip.com" type="result" id="5021" to="hiro@example.onsip.com/psi"/>""", reply);
        var subscription = _bed.PubSub.Subscriptions.Single();
        Assert.Equal((subId, "all", PubSubTestBed.Start.AddMinutes(40).AddHours(24)), (subscription.SubId, subscription.Settings.Depth, subscription.Expires));
    }

    [Fact]
    public async Task OptionsCanBeReadBackAsAForm()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var subId = await _bed.SubscribeAsync("/me/alice@example.com", "alice@example.com/web", PubSubTestBed.DepthAll);

        var reply = await _bed.RequestAsync($"""
            <iq type='get' id='o1' to='{PubSubTestBed.Service}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='/me/alice@example.com' jid='alice@example.com/web'/></pubsub></iq>
            """, "alice@example.com/web");

        var options = reply.Descendants(Ns.PubSub + "options").Single();
        Assert.Equal(subId, (string?)options.Attribute("subid"));
        var form = Gateway.Xmpp.DataForms.DataForm.Parse(options.Elements().Single());
        Assert.Equal(SubscribeOptions.FormType, form.FormType);
        Assert.Equal(("all", "items", "true", "2010-11-03T21:00:00Z"),
            (form.GetValue("pubsub#subscription_depth"), form.GetValue("pubsub#subscription_type"), form.GetValue("pubsub#deliver"), form.GetValue("pubsub#expire")));
    }

    [Fact]
    public async Task UnsubscribingBySubidRemovesOnlyThatSubscription()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);
        var psi = await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi");
        await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/phone");

        var reply = await _bed.RequestAsync($"""
            <iq type='set' to='pubsub.active-calls.xmpp.onsip.com' id='unsub1'>
              <pubsub xmlns='http://jabber.org/protocol/pubsub'>
                <unsubscribe node='/me/hiro@example.onsip.com' subid="{psi}" jid="hiro@example.onsip.com/psi"/>
              </pubsub>
            </iq>
            """, "hiro@example.onsip.com/psi");

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.Equal(["hiro@example.onsip.com/phone"], _bed.PubSub.Subscriptions.Select(s => s.Jid.ToString()));
        var again = await _bed.RequestAsync($"""
            <iq type='set' to='{PubSubTestBed.Service}' id='unsub2'>
              <pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='/me/hiro@example.onsip.com' subid="{psi}" jid="hiro@example.onsip.com/psi"/></pubsub>
            </iq>
            """, "hiro@example.onsip.com/psi");
        Assert.Equal(Ns.PubSubErrors + "invalid-subid", StanzaError.FromStanza(again).ApplicationCondition);
    }

    [Fact]
    public async Task UnsubscribingNeedsTheOwnJidAndAnExistingSubscription()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro);
        var client = new PubSubClient(_bed.Stream.ClientAt(Jid.Parse("hiro@example.onsip.com/psi")));
        var service = Jid.Parse(PubSubTestBed.Service);
        var ct = TestContext.Current.CancellationToken;

        var notSubscribed = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.UnsubscribeAsync(service, "/me/hiro@example.onsip.com", Jid.Parse("hiro@example.onsip.com/psi"), cancellationToken: ct));
        var someoneElse = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.UnsubscribeAsync(service, "/me/hiro@example.onsip.com", Jid.Parse("eve@example.com/x"), cancellationToken: ct));

        Assert.Equal(("unexpected-request", Ns.PubSubErrors + "not-subscribed"), (notSubscribed.Error.Condition, notSubscribed.Error.ApplicationCondition));
        Assert.Equal("forbidden", someoneElse.Error.Condition);
    }

    [Fact]
    public async Task AnExpiredSubscriptionDisappears()
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        await _bed.RequestAsync(WikiSubscribe, "alice@example.com");

        _bed.Time.Advance(TimeSpan.FromMinutes(59));
        Assert.Single(_bed.PubSub.Subscriptions);
        _bed.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.Empty(_bed.PubSub.Subscriptions);
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var list = await _bed.RequestAsync("""
            <iq type='get' id='l1' to='pubsub.active-calls.xmpp.onsip.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/></pubsub></iq>
            """, "alice@example.com");
        Assert.Empty(list.Descendants(Ns.PubSub + "subscription"));
    }

    [Fact]
    public async Task ListingSubscriptionsNeedsAnAuthorisation()
    {
        var reply = await _bed.RequestAsync("""
            <iq type='get' id='l1' to='pubsub.active-calls.xmpp.onsip.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/></pubsub></iq>
            """, "alice@example.com");

        Assert.Equal("forbidden", StanzaError.FromStanza(reply).Condition);
    }

    [Theory]
    [InlineData("<publish node='/example.com/alice'><item id='x'/></publish>", "forbidden")]
    [InlineData("<create node='/new'/>", "forbidden")]
    [InlineData("<affiliations/>", "feature-not-implemented")]
    public async Task OnlyTheServicePublishes(string operation, string condition)
    {
        _bed.Authorize("alice@example.com", TestUsers.Alice);
        var type = operation.StartsWith("<aff", StringComparison.Ordinal) ? "get" : "set";

        var reply = await _bed.RequestAsync($"<iq type='{type}' id='p1' to='{PubSubTestBed.Service}'><pubsub xmlns='http://jabber.org/protocol/pubsub'>{operation}</pubsub></iq>", "alice@example.com/x");

        Assert.Equal(condition, StanzaError.FromStanza(reply).Condition);
    }
}
