using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>disco#info and disco#items of <c>commands.active-calls.&lt;domain&gt;</c> (XEP-0030, XEP-0050 §2).</summary>
public class CommandDiscoTests
{
    private readonly CommandTestHost _host = new();

    private Task<XElement> QueryAsync(XNamespace ns, string? node = null) =>
        _host.SendAsync(Stanzas.Get(new XElement(ns + "query", node is null ? null : new XAttribute("node", node))));

    [Fact]
    public void AttachRegistersTheCommandAndDiscoHandlersAndDetachRemovesThem()
    {
        var router = new Fakes.RecordingRouter();
        var attachment = _host.Component.Attach(router);

        Assert.Equal(
            [$"Get {Ns.Commands + "command"}", $"Get {Ns.DiscoInfo + "query"}", $"Get {Ns.DiscoItems + "query"}", $"Set {Ns.Commands + "command"}"],
            router.Registered.Select(r => $"{r.Type} {r.Payload}").Order(StringComparer.Ordinal));
        attachment.Dispose();
        Assert.Empty(router.Registered);
    }

    [Fact]
    public async Task TheComponentIsACommandList()
    {
        var reply = await QueryAsync(Ns.DiscoInfo);

        XmlAssert.Equivalent("""
            <query xmlns="http://jabber.org/protocol/disco#info">
              <identity category="automation" type="command-list" name="Active-Calls"/>
              <feature var="http://jabber.org/protocol/commands"/>
              <feature var="http://jabber.org/protocol/disco#info"/>
              <feature var="http://jabber.org/protocol/disco#items"/>
            </query>
            """, Assert.Single(reply.Elements()));
    }

    [Fact]
    public async Task TheCommandsNodeListsTheFourCommands()
    {
        var reply = await QueryAsync(Ns.DiscoItems, "http://jabber.org/protocol/commands");

        XmlAssert.Equivalent("""
            <query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands">
              <item jid="commands.active-calls.xmpp.onsip.com" node="create" name="Create Call"/>
              <item jid="commands.active-calls.xmpp.onsip.com" node="terminate" name="Terminate Call"/>
              <item jid="commands.active-calls.xmpp.onsip.com" node="transfer" name="Transfer Call"/>
              <item jid="commands.active-calls.xmpp.onsip.com" node="cancel" name="Cancel Call"/>
            </query>
            """, Assert.Single(reply.Elements()));
    }

    [Fact]
    public async Task TheItemsNameTheJidGivenToAttach()
    {
        var router = new Fakes.RecordingRouter();
        _host.Component.Attach(router, Jid.Parse("commands.active-calls.example.net"));
        var handler = router.Find(IqType.Get, Ns.DiscoItems + "query")!;
        var query = new XElement(Ns.DiscoItems + "query", new XAttribute("node", Ns.Commands.NamespaceName));
        var iq = new XElement("iq", new XAttribute("type", "get"), new XAttribute("id", "i"), query);

        var response = Assert.IsType<IqResponse.ResultResponse>(await handler(new IqRequest("i", IqType.Get, Jid.Parse("a@b/c"), null, query, iq), TestContext.Current.CancellationToken));

        Assert.All(response.Payload!.Elements(), item => Assert.Equal("commands.active-calls.example.net", (string?)item.Attribute("jid")));
    }

    [Theory]
    [InlineData("create", "Create Call")]
    [InlineData("terminate", "Terminate Call")]
    [InlineData("transfer", "Transfer Call")]
    [InlineData("cancel", "Cancel Call")]
    public async Task EachCommandNodeIsACommandNodeTakingDataForms(string node, string name)
    {
        var reply = await QueryAsync(Ns.DiscoInfo, node);

        XmlAssert.Equivalent($"""
            <query xmlns="http://jabber.org/protocol/disco#info" node="{node}">
              <identity category="automation" type="command-node" name="{name}"/>
              <feature var="http://jabber.org/protocol/commands"/>
              <feature var="jabber:x:data"/>
            </query>
            """, Assert.Single(reply.Elements()));
    }

    [Fact]
    public async Task ACommandNodeHasNoItems()
    {
        var reply = await QueryAsync(Ns.DiscoItems, "create");

        XmlAssert.Equivalent("""<query xmlns="http://jabber.org/protocol/disco#items" node="create"/>""", Assert.Single(reply.Elements()));
    }

    [Fact]
    public async Task TheComponentItselfHasNoItems()
    {
        var reply = await QueryAsync(Ns.DiscoItems);

        XmlAssert.Equivalent("""<query xmlns="http://jabber.org/protocol/disco#items"/>""", Assert.Single(reply.Elements()));
    }

    [Theory]
    [InlineData("http://jabber.org/protocol/disco#info")]
    [InlineData("http://jabber.org/protocol/disco#items")]
    public async Task AnUnknownNodeIsItemNotFound(string ns)
    {
        var reply = await QueryAsync(ns, "reboot");

        Assert.Equal("error", (string?)reply.Attribute("type"));
        Assert.Equal("item-not-found", StanzaError.FromStanza(reply).Condition);
    }
}
