using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tests.Fakes;

namespace Gateway.Xmpp.Tests.AdHoc;

public class CommandResultAndDiscoTests
{
    private static readonly Jid Component = Jid.Parse(ActiveCallsSeed.ComponentJid);

    [Fact]
    public void NotesOfEveryTypeAreRead()
    {
        var result = CommandResult.Parse(XElement.Parse("""
            <command xmlns="http://jabber.org/protocol/commands" node="n" status="completed">
              <note type="info">i</note><note type="warn">w</note><note type="error">e</note><note>plain</note>
            </command>
            """));

        Assert.Equal(
            [new CommandNote(CommandNoteType.Info, "i"), new CommandNote(CommandNoteType.Warn, "w"),
             new CommandNote(CommandNoteType.Error, "e"), new CommandNote(CommandNoteType.Info, "plain")],
            result.Notes);
        Assert.True(result.HasErrorNote);
        Assert.Null(result.SessionId);
        Assert.Null(result.Form);
    }

    [Fact]
    public void NotesSerializeWithTheirType() =>
        Assert.Equal("""<note type="warn" xmlns="http://jabber.org/protocol/commands">careful</note>""",
            new CommandNote(CommandNoteType.Warn, "careful").ToXml().ToString());

    [Fact]
    public void ActionsKeepDocumentOrderAndIgnoreUnknownChildren()
    {
        var actions = CommandActions.Parse(XElement.Parse(
            """<actions xmlns="http://jabber.org/protocol/commands" execute="bogus"><complete/><prev/><dance/><prev/></actions>"""));

        Assert.Equal([CommandAction.Complete, CommandAction.Prev], actions.Allowed);
        Assert.Null(actions.Default);
    }

    [Theory]
    [InlineData("""<command xmlns="http://jabber.org/protocol/commands" status="completed"/>""")]
    [InlineData("""<command xmlns="urn:other" node="n" status="completed"/>""")]
    [InlineData("""<command xmlns="http://jabber.org/protocol/commands" node="n"/>""")]
    public void MalformedCommandsAreProtocolErrors(string xml) =>
        Assert.Throws<XmppProtocolException>(() => CommandResult.Parse(XElement.Parse(xml)));

    [Fact]
    public void ParsedResultsCompareByValue()
    {
        var a = CommandResult.Parse(XElement.Parse(ActiveCallsSeed.CreateMultiStageFormResponse).Element(Ns.Commands + "command")!);
        var b = CommandResult.Parse(XElement.Parse(ActiveCallsSeed.CreateMultiStageFormResponse).Element(Ns.Commands + "command")!);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, a with { SessionId = "other" });
    }

    [Fact]
    public async Task ListCommandsQueriesTheCommandsNodeAndReadsItems()
    {
        var sender = new ScriptedIqSender().Reply($"""
            <iq type="result" from="{ActiveCallsSeed.ComponentJid}" id="d1">
              <query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands">
                <item jid="{ActiveCallsSeed.ComponentJid}" node="create" name="Create Call"/>
                <item jid="{ActiveCallsSeed.ComponentJid}" node="terminate" name="Terminate Call"/>
                <item node="transfer"/>
                <item jid="{ActiveCallsSeed.ComponentJid}" name="no node"/>
                <item jid="@broken" node="cancel"/>
              </query>
            </iq>
            """);

        var nodes = await new AdHocCommandClient(sender).ListCommandsAsync(Component, TestContext.Current.CancellationToken);

        Assert.Equal(IqType.Get, sender.LastSent.Type);
        Assert.Equal(Component, sender.LastSent.To);
        XmlAssert.Equivalent(
            """<query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands"/>""",
            sender.LastSent.Payload);
        Assert.Equal(
            [new CommandNode(Component, "create", "Create Call"), new CommandNode(Component, "terminate", "Terminate Call"),
             new CommandNode(Component, "transfer", null)],
            nodes);
    }

    [Fact]
    public async Task ListCommandsWithoutQueryIsAProtocolError()
    {
        var sender = new ScriptedIqSender().Reply("""<iq type="result" id="d1"/>""");
        await Assert.ThrowsAsync<XmppProtocolException>(
            () => new AdHocCommandClient(sender).ListCommandsAsync(Component, TestContext.Current.CancellationToken));
    }
}
