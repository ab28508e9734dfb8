using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.Tests.PubSub;

/// <summary>Fetching the current calls, and what service discovery tells about the service and its nodes.</summary>
public sealed class ItemsAndDiscoTests : IDisposable
{
    private readonly PubSubTestBed _bed = new();
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;
    private readonly Jid _service = Jid.Parse(PubSubTestBed.Service);

    public void Dispose() => _bed.Dispose();

    private PubSubClient ClientAt(string jid) => new(_bed.Stream.ClientAt(Jid.Parse(jid)));

    [Fact]
    public async Task ALeafsItemsAreItsCurrentCallsWithTheirPublishTime()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro, TestUsers.HiroMarketing);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(TestUsers.Hiro, "leg-1"), _ct);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(TestUsers.Hiro, "leg-2"), _ct);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(TestUsers.HiroMarketing, "leg-3"), _ct);
        await _bed.Publisher.LegEndedAsync(PubSubTestBed.CreatedLeg(TestUsers.Hiro, "leg-2"), new LegEnd("bye"), _ct);

        var items = await ClientAt("hiro@example.onsip.com/psi").GetItemsAsync(_service, "/example.onsip.com/hiro", cancellationToken: _ct);

        var item = Assert.Single(items);
        Assert.Equal(("leg-1", "/example.onsip.com/hiro"), (item.Id, item.Node));
        Assert.True(ActiveCallItem.TryParse(item, out var call));
        Assert.Equal((ActiveCallDialogState.Requested, new DateTimeOffset(2010, 11, 2, 21, 0, 5, TimeSpan.Zero)), (call.DialogState, call.PublishTime));
    }

    [Fact]
    public async Task TheCollectionsItemsAreThoseOfEveryAuthorisedLeafEachNamingItsLeaf()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro, TestUsers.HiroMarketing);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(TestUsers.Hiro, "leg-1"), _ct);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(TestUsers.HiroMarketing, "leg-2"), _ct);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(TestUsers.Foo, "not-hiros"), _ct);
        // Re-publishing makes an item the newest.
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(TestUsers.Hiro, "leg-1") with { State = LegState.Confirmed }, _ct);

        var reply = await _bed.RequestAsync($"""
            <iq type='get' id='items1' to='{PubSubTestBed.Service}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='/me/hiro@example.onsip.com'/></pubsub></iq>
            """, "hiro@example.onsip.com/psi");

        var items = reply.Descendants(Ns.PubSub + "item").Select(i => ((string?)i.Attribute("id"), (string?)i.Attribute("node"))).ToList();
        Assert.Equal([("leg-2", "/example.onsip.com/hiro_marketing"), ("leg-1", "/example.onsip.com/hiro")], items);
        Assert.Equal("/me/hiro@example.onsip.com", (string?)reply.Descendants(Ns.PubSub + "items").Single().Attribute("node"));
        // Our client reads item@node as the item's leaf.
        var viaClient = await ClientAt("hiro@example.onsip.com/psi").GetItemsAsync(_service, "/me/hiro@example.onsip.com", maxItems: 1, _ct);
        Assert.Equal(("leg-1", "/example.onsip.com/hiro"), (viaClient.Single().Id, viaClient.Single().Node));
    }

    [Fact]
    public async Task ItemsCanBeAskedForById()
    {
        _bed.Authorize("foo@example.onsip.com", TestUsers.Foo);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "a"), _ct);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.CreatedLeg(itemId: "b"), _ct);

        var reply = await _bed.RequestAsync($"""
            <iq type='get' id='items1' to='{PubSubTestBed.Service}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='/example.onsip.com/foo'><item id='b'/><item id='gone'/></items></pubsub></iq>
            """, "foo@example.onsip.com/psi");

        Assert.Equal(["b"], reply.Descendants(Ns.PubSub + "item").Select(i => (string?)i.Attribute("id")));
    }

    [Theory]
    [InlineData("/example.onsip.com/foo")]
    [InlineData("/me/eve@example.com")]
    public async Task ItemsNeedAnAuthorisation(string node)
    {
        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => ClientAt("eve@example.com/x").GetItemsAsync(_service, node, cancellationToken: _ct));

        Assert.Equal("forbidden", error.Error.Condition);
    }

    [Fact]
    public async Task TheServiceIsAPubSubServiceWithCollections()
    {
        var reply = await _bed.RequestAsync($"<iq type='get' id='d1' to='{PubSubTestBed.Service}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "eve@example.com/x");

        var identity = reply.Descendants(Ns.DiscoInfo + "identity").Single();
        Assert.Equal(("pubsub", "service"), ((string?)identity.Attribute("category"), (string?)identity.Attribute("type")));
        var features = reply.Descendants(Ns.DiscoInfo + "feature").Select(f => (string?)f.Attribute("var")).ToList();
        Assert.Contains("http://jabber.org/protocol/pubsub#collections", features);
        Assert.Contains("http://jabber.org/protocol/pubsub#subscribe", features);
        Assert.Contains("http://jabber.org/protocol/pubsub#retrieve-items", features);
        Assert.DoesNotContain("http://jabber.org/protocol/pubsub#publish", features);
    }

    [Theory]
    [InlineData("/", "collection")]
    [InlineData("/me/hiro@example.onsip.com", "collection")]
    [InlineData("/example.onsip.com/hiro", "leaf")]
    public async Task NodesAreLeavesOrCollections(string node, string type)
    {
        var reply = await _bed.RequestAsync($"<iq type='get' id='d1' to='{PubSubTestBed.Service}'><query xmlns='http://jabber.org/protocol/disco#info' node='{node}'/></iq>", "hiro@example.onsip.com/psi");

        Assert.Equal(type, (string?)reply.Descendants(Ns.DiscoInfo + "identity").Single().Attribute("type"));
    }

    [Fact]
    public async Task DiscoItemsWalkFromTheRootToTheAuthorisedLeavesAndTheirItems()
    {
        _bed.Authorize("hiro@example.onsip.com", TestUsers.Hiro, TestUsers.HiroMarketing);
        await _bed.Publisher.LegUpdatedAsync(PubSubTestBed.RequestedLeg(TestUsers.Hiro, "leg-1"), _ct);

        var root = await _bed.RequestAsync($"<iq type='get' id='d1' to='{PubSubTestBed.Service}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", "hiro@example.onsip.com/psi");
        var me = await _bed.RequestAsync($"<iq type='get' id='d2' to='{PubSubTestBed.Service}'><query xmlns='http://jabber.org/protocol/disco#items' node='/me/hiro@example.onsip.com'/></iq>", "hiro@example.onsip.com/psi");
        var leaf = await _bed.RequestAsync($"<iq type='get' id='d3' to='{PubSubTestBed.Service}'><query xmlns='http://jabber.org/protocol/disco#items' node='/example.onsip.com/hiro'/></iq>", "hiro@example.onsip.com/psi");

        Assert.Equal(["/me/hiro@example.onsip.com"], root.Descendants(Ns.DiscoItems + "item").Select(i => (string?)i.Attribute("node")));
        Assert.Equal(["/example.onsip.com/hiro", "/example.onsip.com/hiro_marketing"], me.Descendants(Ns.DiscoItems + "item").Select(i => (string?)i.Attribute("node")));
        XmlAssert.Equivalent($"""
            <query xmlns="http://jabber.org/protocol/disco#items" node="/example.onsip.com/hiro"><item jid="{PubSubTestBed.Service}" name="leg-1"/></query>
            """, leaf.Elements().Single());
    }

    [Fact]
    public void TheEnginesLegMapsOntoTheItemFieldByField()
    {
        var leg = new CallLeg("id", TestUsers.Foo, LegState.Confirmed, "call", "sip:a@x", "sip:b@y;user=phone", "ft", "tt", "z9hG4bK1", "sip:b@y",
            "4eea2554", "A", "B", new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)));

        var item = ActiveCallsPublisher.ToItem(leg);

        Assert.Equal(
            (ActiveCallDialogState.Confirmed, "b@y", "call", "sip:a@x", "sip:b@y;user=phone", "ft", "tt", "z9hG4bK1", "4eea2554", "A", "B"),
            (item.DialogState, item.ToAor, item.CallId, item.FromUri, item.ToUri, item.FromTag, item.ToTag, item.Branch, item.CallSetupId, item.FromDisplay, item.ToDisplay));
        Assert.Equal("2020-01-02T01:04:05Z", (string?)item.ToXml().Attribute("publish-time"));
    }
}
