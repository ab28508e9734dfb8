using System.Text;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.Tests.PubSub;

/// <summary>What subscribers receive when the engine reports legs (§4.4, §4.5).</summary>
public sealed class NotificationTests : IDisposable
{
    private const string Escaped = "foo!example.onsip.com@dashboard.onsip.com";
    private readonly PubSubTestBed _bed = new();
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task ACreatedLegReachesACollectionSubscriberExactlyAsOnSipsFixtureShowsIt()
    {
        _bed.Authorize(Escaped, TestUsers.Foo);
        await _bed.SubscribeAsync("/me/" + Escaped, Escaped, PubSubTestBed.DepthAll);
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);

        XmlAssert.Equivalent("""
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
            """, _bed.Stream.Messages.Single());
    }

    [Fact]
    public async Task ALeafSubscriberGetsTheItemWithoutHeadersWhateverItsDepth()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/example.onsip.com/foo", "foo@example.onsip.com/phone");
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(), _ct);

        var message = _bed.Stream.Messages.Single();
        Assert.Equal("foo@example.onsip.com/phone", (string?)message.Attribute("to"));
        Assert.Null(message.Element(Ns.Shim + "headers"));
        var published = Assert.IsType<PubSubEvent.ItemsPublished>(PubSubEvent.Parse(message).Single());
        Assert.Equal("/example.onsip.com/foo", published.Node);
        Assert.True(ActiveCallItem.TryParse(published.Items.Single(), out var item));
        Assert.Equal((ActiveCallDialogState.Requested, "foo@example.onsip.com", "z9hG4bK7bb6.4c45a015.0"), (item.DialogState, item.ToAor, item.Branch));
    }

    [Fact]
    public async Task ACollectionSubscriptionOfDepthOneReceivesNoItems()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/me/foo@example.onsip.com", "foo@example.onsip.com/psi");
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);

        Assert.Empty(_bed.Stream.Messages);
    }

    [Fact]
    public async Task EachMatchingSubscriptionGetsItsOwnMessage()
    {
        // One JID, three resources: two through its collection, one on the leaf; and another JID on the same leaf.
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro, TestUsers.HiroMarketing);
        _bed.Authorize("boss@example.onsip.com", TestUsers.Hiro);
        var psi = await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/psi", PubSubTestBed.DepthAll);
        var tapi = await _bed.SubscribeAsync("/me/hiro@example.onsip.com", "hiro@example.onsip.com/tapi", PubSubTestBed.DepthAll);
        await _bed.SubscribeAsync("/example.onsip.com/hiro", "hiro@example.onsip.com/phone");
        await _bed.SubscribeAsync("/example.onsip.com/hiro", "boss@example.onsip.com");
        await _bed.SubscribeAsync("/example.onsip.com/hiro_marketing", "hiro@example.onsip.com/phone");
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(TestUsers.Hiro), _ct);

        var received = _bed.Stream.Messages
            .Select(m => (To: (string)m.Attribute("to")!, Event: (PubSubEvent.ItemsPublished)PubSubEvent.Parse(m).Single()))
            .Select(r => (r.To, r.Event.Collection, SubIds: string.Join(",", r.Event.SubIds)))
            .OrderBy(r => r.To, StringComparer.Ordinal).ToList();
        Assert.Equal(
            [
                ("boss@example.onsip.com", null, ""),
                ("hiro@example.onsip.com/phone", null, ""),
                ("hiro@example.onsip.com/psi", "/me/hiro@example.onsip.com", psi),
                ("hiro@example.onsip.com/tapi", "/me/hiro@example.onsip.com", tapi),
            ],
            received);
    }

    [Fact]
    public async Task AConfirmedLegIsARepublicationOfTheSameItemIdAndAnEndedLegARetract()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/me/foo@example.onsip.com", "foo@example.onsip.com/psi", PubSubTestBed.DepthAll);
        var requested = PubSubTestBed.RequestedLeg();
        await _bed.Publisher.LegUpdatedAsync(requested, _ct);
        _bed.Stream.Clear();

        var confirmed = requested with
        {
            State = LegState.Confirmed,
            ToTag = "as11173b9d",
            FromDisplay = "Bert",
            ToDisplay = "Ernie",
            Timestamp = requested.Timestamp.AddSeconds(7),
        };
        await _bed.Publisher.LegUpdatedAsync(confirmed, _ct);
        await _bed.Publisher.LegEndedAsync(confirmed, new LegEnd("bye", 200), _ct);

        var messages = _bed.Stream.Messages;
        Assert.Equal(2, messages.Count);
        XmlAssert.Equivalent("""
            <item xmlns="http://jabber.org/protocol/pubsub#event" id="6859babae582000ff963b29394ddb4b5">
              <active-call xmlns="onsip:active-calls" publish-time="2010-11-02T21:00:12Z">
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
            """, messages[0].Descendants(Ns.PubSubEvent + "item").Single());
        XmlAssert.Equivalent("""
            <message from="pubsub.active-calls.xmpp.onsip.com" to="foo@example.onsip.com/psi">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/example.onsip.com/foo"><retract id="6859babae582000ff963b29394ddb4b5"/></items>
              </event>
              <headers xmlns="http://jabber.org/protocol/shim"><header name="Collection">/me/foo@example.onsip.com</header></headers>
            </message>
            """, messages[1]);
        Assert.Empty(_bed.PubSub.Store.ItemsOf("/example.onsip.com/foo"));
    }

    [Fact]
    public async Task AnExpiredSubscriptionReceivesNothing()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/example.onsip.com/foo", "foo@example.onsip.com/psi", PubSubTestBed.OptionsForm(("pubsub#expire", "2010-11-02T21:10:00Z")));
        _bed.Time.Advance(TimeSpan.FromMinutes(10));
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);

        Assert.Empty(_bed.Stream.Messages);
        Assert.Empty(_bed.PubSub.Subscriptions);
    }

    [Fact]
    public async Task DeliveryFollowsTheAuthorisationLapsingAndBeingRenewed()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/me/foo@example.onsip.com", "foo@example.onsip.com/psi", PubSubTestBed.DepthAll);
        _bed.Time.Advance(TimeSpan.FromHours(1));
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "first"), _ct);
        Assert.Empty(_bed.Stream.Messages);

        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "second"), _ct);
        Assert.Equal("second", (string?)_bed.Stream.Messages.Single().Descendants(Ns.PubSubEvent + "item").Single().Attribute("id"));
    }

    [Fact]
    public async Task DeliveryCanBeSwitchedOffByOptions()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/example.onsip.com/foo", "foo@example.onsip.com/psi", PubSubTestBed.OptionsForm(("pubsub#deliver", "false")));
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);

        Assert.Empty(_bed.Stream.Messages);
    }

    [Fact]
    public async Task XmlMetacharactersInDisplayNamesAreEscapedOnTheWire()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/example.onsip.com/foo", "foo@example.onsip.com/psi");
        _bed.Stream.Clear();
        const string nasty = "\"Bert\" <b>&amp; ]]> 'Ernie'</b>";

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg() with { FromDisplay = nasty, ToDisplay = "<to-display>x</to-display>" }, _ct);

        var wire = Encoding.UTF8.GetString(XmppStreamWriter.Serialize(_bed.Stream.Messages.Single()));
        Assert.DoesNotContain("<b>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("]]>", wire, StringComparison.Ordinal);
        Assert.Contains("&lt;b&gt;&amp;amp; ]]&gt;", wire, StringComparison.Ordinal);
        var parsed = System.Xml.Linq.XElement.Parse(wire);
        Assert.True(ActiveCallItem.TryParse(((PubSubEvent.ItemsPublished)PubSubEvent.Parse(parsed).Single()).Items.Single(), out var item));
        Assert.Equal((nasty, "<to-display>x</to-display>"), (item.FromDisplay, item.ToDisplay));
    }

    [Fact]
    public async Task ALegOfAnAddressThatIsNoUsersIsNeitherPublishedNorKept()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.SubscribeAsync("/me/foo@example.onsip.com", "foo@example.onsip.com/psi", PubSubTestBed.DepthAll);
        _bed.Stream.Clear();

        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(owner: "stranger@example.net"), _ct);
        await _bed.Publisher.LegEndedAsync(PubSubTestBed.CreatedLeg(owner: "stranger@example.net"), new LegEnd("cancel"), _ct);

        Assert.Empty(_bed.Stream.Messages);
        Assert.False(await _bed.PubSub.PublishAsync("stranger@example.net", "x", ActiveCallsPublisher.ToItem(PubSubTestBed.CreatedLeg()), _ct));
    }

    [Fact]
    public async Task ItemsPublishedWhileTheComponentHasNoStreamAreKeptForTheNextOne()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        using var component = new ActiveCallsPubSubComponent(new ActiveCallsNodeStore(TestUsers.Directory()), _bed.Auth, TestUsers.Options(), _bed.Time);
        var stream = new FakeComponentStream();
        using (component.Attach(stream, stream.SendAsync)) { }

        // Between a lost connection and the next one nothing can be sent, but what is published is kept.
        await new ActiveCallsPublisher(component).LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);
        var next = new FakeComponentStream();
        using var attachment = component.Attach(next, next.SendAsync);
        var reply = await next.RequestAsync($"""
            <iq type='get' id='i1' to='{PubSubTestBed.Service}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='/example.onsip.com/foo'/></pubsub></iq>
            """, "foo@example.onsip.com/psi");

        Assert.Empty(stream.Written);
        Assert.Equal("b5879e23d6a92cc11f01a29e466f7bd2", (string?)reply.Descendants(Ns.PubSub + "item").Single().Attribute("id"));
    }
}
