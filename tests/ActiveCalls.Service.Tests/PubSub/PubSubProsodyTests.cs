using System.Xml.Linq;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Prosody;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.PubSub;

/// <summary>Active-Calls PubSub through a real Prosody: a real c2s client authorises, subscribes as the wiki shows, and
/// receives what the engine's legs publish. The service runs at the wiki sample's date, so its expiry is valid verbatim.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class PubSubProsodyTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2010, 11, 2, 21, 0, 0, TimeSpan.Zero));
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;
    private ServiceOnProsody? _service;
    private ServiceOnProsody Service => _service!;
    private Jid PubSubJid => Service.Options.PubSubJid;

    public async ValueTask InitializeAsync() => _service = await ServiceOnProsody.StartAsync(prosody, _time);

    public async ValueTask DisposeAsync()
    {
        if (_service is not null) await _service.DisposeAsync();
    }

    /// <summary>authorize-plain for every address of foo's owner, with our full JID, through our own command client.</summary>
    private async Task AuthorizeAsync(XmppClient client, string address = TestUsers.Foo, string password = TestUsers.FooPassword)
    {
        var form = DataForm.Submit().Add("sip-address", address).Add("password", password).Add("auth-for-all", true).Add("jid", client.LocalJid!.ToString()).Build();
        var result = await new AdHocCommandClient(client).ExecuteAsync(Service.Options.AuthJid, "authorize-plain", form, ct: _ct);
        Assert.Equal(CommandStatus.Completed, result.Status);
    }

    /// <summary>The wiki's "Subscribe To JID Level" request, for our JID.</summary>
    private static XElement WikiSubscribe(Jid bare) => XElement.Parse($"""
        <pubsub xmlns='http://jabber.org/protocol/pubsub'>
          <subscribe node='/me/{bare}' jid='{bare}'/>
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
        """);

    [Fact]
    public async Task AClientFollowsACallFromRingingToHangUpThroughItsCollection()
    {
        var client = await Service.ClientAsync("psi");
        var bare = client.LocalJid!.Bare;
        using var messages = ServiceOnProsody.Messages(client);
        await AuthorizeAsync(client);

        // Subscribe as the wiki shows: pending, then the subscribed message.
        var result = await client.SendIqAsync(PubSubJid, IqType.Set, WikiSubscribe(bare), cancellationToken: _ct);
        var pending = result.Descendants(Ns.PubSub + "subscription").Single();
        var subId = (string)pending.Attribute("subid")!;
        XmlAssert.Equivalent($"""
            <iq xmlns="jabber:client" xml:lang="en" type="result" id="{(string?)result.Attribute("id")}" from="{PubSubJid}" to="{client.LocalJid}">
              <pubsub xmlns="http://jabber.org/protocol/pubsub">
                <subscription node="/me/{bare}" jid="{bare}" subscription="pending" subid="{subId}" expiry="2010-11-02T22:00:00Z"/>
              </pubsub>
            </iq>
            """, result);
        var confirmation = Assert.IsType<PubSubEvent.SubscriptionChanged>(PubSubEvent.Parse(await ServiceOnProsody.NextAsync(messages)).Single());
        Assert.Equal(($"/me/{bare}", SubscriptionState.Subscribed, subId), (confirmation.Node, confirmation.State, confirmation.SubId));

        // Ringing: the item in the fixed child order, through the collection (SHIM header).
        var ringing = PubSubTestBed.RequestedLeg() with { FromDisplay = "\"Bert\" <b>&amp; ]]> 'x'" };
        await Service.Publisher.LegUpdatedAsync(ringing, _ct);
        var first = await ServiceOnProsody.NextAsync(messages);
        Assert.Equal(client.LocalJid!.Bare.ToString(), Jid.Parse((string)first.Attribute("to")!).Bare.ToString());
        var published = Assert.IsType<PubSubEvent.ItemsPublished>(PubSubEvent.Parse(first).Single());
        Assert.Equal(("/example.onsip.com/foo", $"/me/{bare}"), (published.Node, published.Collection));
        var payload = published.Items.Single().Payload!;
        Assert.Equal(["dialog-state", "to-aor", "call-id", "from-uri", "to-uri", "from-tag", "to-tag", "branch", "call-setup-id", "from-display", "to-display"],
            payload.Elements().Select(e => e.Name.LocalName));
        Assert.True(ActiveCallItem.TryParse(published.Items.Single(), out var call));
        Assert.Equal((ActiveCallDialogState.Requested, ringing.FromDisplay, new DateTimeOffset(2010, 11, 2, 21, 0, 5, TimeSpan.Zero)), (call.DialogState, call.FromDisplay, call.PublishTime));

        // Answered: the same item id re-published as confirmed.
        var answered = ringing with { State = LegState.Confirmed, ToTag = "as11173b9d", Timestamp = ringing.Timestamp.AddSeconds(4) };
        await Service.Publisher.LegUpdatedAsync(answered, _ct);
        var second = Assert.IsType<PubSubEvent.ItemsPublished>(PubSubEvent.Parse(await ServiceOnProsody.NextAsync(messages)).Single());
        Assert.Equal(published.Items.Single().Id, second.Items.Single().Id);
        Assert.True(ActiveCallItem.TryParse(second.Items.Single(), out var confirmed));
        Assert.Equal((ActiveCallDialogState.Confirmed, "as11173b9d"), (confirmed.DialogState, confirmed.ToTag));

        // The current calls, as a client re-reads them after a reconnect.
        var items = await new PubSubClient(client).GetItemsAsync(PubSubJid, $"/me/{bare}", cancellationToken: _ct);
        Assert.Equal([("6859babae582000ff963b29394ddb4b5", "/example.onsip.com/foo")], items.Select(i => (i.Id, i.Node)));

        // Hang-up: a retract of that id.
        await Service.Publisher.LegEndedAsync(answered, new LegEnd("bye", 200), _ct);
        var retracted = Assert.IsType<PubSubEvent.ItemsRetracted>(PubSubEvent.Parse(await ServiceOnProsody.NextAsync(messages)).Single());
        Assert.Equal(["6859babae582000ff963b29394ddb4b5"], retracted.ItemIds);
        Assert.Equal($"/me/{bare}", retracted.Collection);
        Assert.Empty(await new PubSubClient(client).GetItemsAsync(PubSubJid, $"/me/{bare}", cancellationToken: _ct));
    }

    [Fact]
    public async Task TheRootRedirectsToTheCollectionAndTheEleventhSubscriptionIsRefused()
    {
        var client = await Service.ClientAsync("r0");
        var bare = client.LocalJid!.Bare;
        await AuthorizeAsync(client);
        var pubSub = new PubSubClient(client);

        var first = await pubSub.SubscribeAsync(PubSubJid, "/", client.LocalJid!, SubscribeOptions.ForCollection(), _ct);
        Assert.Equal(($"/me/{bare}", SubscriptionState.Pending), (first.Node, first.State));
        for (var i = 1; i < 10; i++)
            await pubSub.SubscribeAsync(PubSubJid, $"/me/{bare}", bare.WithResource($"r{i}"), cancellationToken: _ct);
        // Subscribing again with a JID that already has one renews it rather than counting.
        await pubSub.SubscribeAsync(PubSubJid, $"/me/{bare}", bare.WithResource("r5"), cancellationToken: _ct);

        var refused = await Assert.ThrowsAsync<XmppStanzaErrorException>(() =>
            pubSub.SubscribeAsync(PubSubJid, $"/me/{bare}", bare.WithResource("r10"), cancellationToken: _ct));

        Assert.Equal((StanzaErrorType.Wait, "policy-violation", Ns.PubSubErrors + "too-many-subscriptions"),
            (refused.Error.Type, refused.Error.Condition, refused.Error.ApplicationCondition));
        Assert.Equal(10, (await pubSub.GetSubscriptionsAsync(PubSubJid, $"/me/{bare}", _ct)).Count);
    }

    [Fact]
    public async Task AnUnauthorisedJidIsForbidden()
    {
        var client = await Service.ClientAsync();
        var pubSub = new PubSubClient(client);

        var collection = await Assert.ThrowsAsync<XmppStanzaErrorException>(() =>
            pubSub.SubscribeAsync(PubSubJid, ActiveCallsNodes.ForJid(client.LocalJid!), client.LocalJid!, cancellationToken: _ct));
        var leaf = await Assert.ThrowsAsync<XmppStanzaErrorException>(() =>
            pubSub.GetItemsAsync(PubSubJid, "/example.onsip.com/foo", cancellationToken: _ct));

        Assert.Equal((StanzaErrorType.Auth, "forbidden"), (collection.Error.Type, collection.Error.Condition));
        Assert.Equal("forbidden", leaf.Error.Condition);
    }

    [Fact]
    public async Task AnExpiredSubscriptionReceivesNothingMore()
    {
        var client = await Service.ClientAsync();
        using var messages = ServiceOnProsody.Messages(client);
        await AuthorizeAsync(client);
        await new PubSubClient(client).SubscribeAsync(PubSubJid, "/example.onsip.com/foo", client.LocalJid!,
            new SubscribeOptions { Expire = _time.GetUtcNow().AddMinutes(10) }, _ct);
        await ServiceOnProsody.NextAsync(messages); // subscribed

        _time.Advance(TimeSpan.FromMinutes(10));
        await Service.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(), _ct);
        // Stanzas from one sender arrive in order: the marker coming first proves no notification was sent before it.
        await Service.PubSubStream.SendAsync(new XElement("message", new XAttribute("to", client.LocalJid!), new XElement("body", "marker")), _ct);

        Assert.Equal("marker", (await ServiceOnProsody.NextAsync(messages)).Element(Ns.Client + "body")?.Value);
        Assert.Empty(Service.PubSub.Subscriptions);
    }

    [Fact]
    public async Task ItemsAndSubscriptionsOutliveTheComponentsReconnection()
    {
        var client = await Service.ClientAsync();
        using var messages = ServiceOnProsody.Messages(client);
        await AuthorizeAsync(client);
        await new PubSubClient(client).SubscribeAsync(PubSubJid, "/example.onsip.com/foo", client.LocalJid!, cancellationToken: _ct);
        await ServiceOnProsody.NextAsync(messages); // subscribed
        await Service.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "before"), _ct);
        await ServiceOnProsody.NextAsync(messages);

        var sessions = Service.PubSubSessions;
        Service.PubSubStream.AbortConnection("killed by the test");
        await Service.WaitUntilAsync(() => Service.PubSubSessions > sessions && Service.PubSubStream.State == ConnectionState.Established, "the component reconnects");

        var items = await new PubSubClient(client).GetItemsAsync(PubSubJid, "/example.onsip.com/foo", cancellationToken: _ct);
        Assert.Equal(["before"], items.Select(i => i.Id));
        await Service.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "after"), _ct);
        var next = Assert.IsType<PubSubEvent.ItemsPublished>(PubSubEvent.Parse(await ServiceOnProsody.NextAsync(messages)).Single());
        Assert.Equal("after", next.Items.Single().Id);
    }
}
