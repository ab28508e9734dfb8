using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tests.Fakes;

namespace Gateway.Xmpp.Tests.AdHoc;

public class SingleStageExecutionTests
{
    private static readonly Jid Component = Jid.Parse(ActiveCallsSeed.ComponentJid);

    private static XElement SeedCommand(string stanza) => XElement.Parse(stanza).Element(Ns.Commands + "command")!;

    private static DataForm CreateForm() => DataForm.Submit()
        .Add("from", "sip:foo@example.onsip.com", FormFieldType.TextSingle)
        .Add("to", "sip:bar@example.onsip.com", FormFieldType.TextSingle)
        .Add("call-setup-id", "AbCd1234", FormFieldType.TextSingle)
        .Build();

    private static DataForm TerminateForm() => DataForm.Submit()
        .Add("call-id", "a-valid-callid", FormFieldType.TextSingle)
        .Add("from-tag", "a-from-tag", FormFieldType.TextSingle)
        .Add("to-tag", "a-to-tag", FormFieldType.TextSingle)
        .Build();

    private static DataForm TransferForm() => DataForm.Submit()
        .Add("call-id", "a-valid-call-id", FormFieldType.TextSingle)
        .Add("from-tag", "the-from-tag", FormFieldType.TextSingle)
        .Add("to-tag", "the-to-tag", FormFieldType.TextSingle)
        .Add("endpoint", "caller", FormFieldType.ListSingle)
        .Add("target-uri", "sip:bob@example.com", FormFieldType.TextSingle)
        .Build();

    [Fact]
    public async Task SingleStageCreateSendsTheSeedsSubmitFormWithoutActionOrSession()
    {
        var sender = new ScriptedIqSender().Reply(ActiveCallsSeed.CreateSuccessResponse);
        var client = new AdHocCommandClient(sender);

        await client.ExecuteAsync(Component, "create", CreateForm(), ct: TestContext.Current.CancellationToken);

        var sent = Assert.Single(sender.Sent);
        Assert.Equal(IqType.Set, sent.Type);
        Assert.Equal(Component, sent.To);
        XmlAssert.Equivalent(SeedCommand(ActiveCallsSeed.CreateSingleStageRequest), sent.Payload);
        Assert.Null(sent.Payload.Attribute("action"));
        Assert.Null(sent.Payload.Attribute("sessionid"));
    }

    [Fact]
    public async Task SingleStageTerminateAndTransferSendTheSeedsRequests()
    {
        var sender = new ScriptedIqSender()
            .Reply(ActiveCallsSeed.TerminateSuccessResponse)
            .Reply(ActiveCallsSeed.TransferSuccessResponse);
        var client = new AdHocCommandClient(sender);

        await client.ExecuteAsync(Component, "terminate", TerminateForm(), ct: TestContext.Current.CancellationToken);
        await client.ExecuteAsync(Component, "transfer", TransferForm(), ct: TestContext.Current.CancellationToken);

        XmlAssert.Equivalent(SeedCommand(ActiveCallsSeed.TerminateSingleStageRequest), sender.Sent[0].Payload);
        XmlAssert.Equivalent(SeedCommand(ActiveCallsSeed.TransferSingleStageRequest), sender.Sent[1].Payload);
    }

    [Fact]
    public async Task CreateSuccessCarriesTheFixedCallSetupId()
    {
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(ActiveCallsSeed.CreateSuccessResponse));

        var result = await client.ExecuteAsync(Component, "create", CreateForm(), ct: TestContext.Current.CancellationToken);

        Assert.Equal("create", result.Node);
        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal("b7720992672820eeec1b898c5f54057d", result.SessionId);
        Assert.NotNull(result.Form);
        Assert.Equal(DataFormType.Result, result.Form.Type);
        Assert.Equal("cqjOO99m", result.Form["call-setup-id"]);
        Assert.Equal(FormFieldType.Fixed, result.Form.GetField("call-setup-id")!.Type);
        Assert.Null(result.Actions);
        Assert.Empty(result.Notes);
        Assert.False(result.HasErrorNote);
    }

    [Theory]
    [InlineData("terminate", nameof(ActiveCallsSeed.TerminateSuccessResponse), "c24df0dfb26a6d2ab037eed3c7a77c0d")]
    [InlineData("transfer", nameof(ActiveCallsSeed.TransferSuccessResponse), "552d11b3c234bbb0d34aad81449f22a9")]
    public async Task TerminateAndTransferSuccessAreCompletedWithoutPayload(string node, string seedName, string sessionId)
    {
        var reply = (string)typeof(ActiveCallsSeed).GetField(seedName)!.GetValue(null)!;
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(reply));

        var result = await client.ExecuteAsync(Component, node, TerminateForm(), ct: TestContext.Current.CancellationToken);

        Assert.Equal(new CommandResult(node, sessionId, CommandStatus.Completed), result);
    }

    [Fact]
    public async Task CreateErrorIsABadRequestWithBadPayloadAndTheEchoedForm()
    {
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(ActiveCallsSeed.CreateErrorResponse));

        var ex = await Assert.ThrowsAsync<XmppStanzaErrorException>(
            () => client.ExecuteAsync(Component, "create", CreateForm(), ct: TestContext.Current.CancellationToken));

        Assert.Equal(StanzaErrorType.Modify, ex.Error.Type);
        Assert.Equal("bad-request", ex.Error.Condition);
        Assert.Equal(400, ex.Error.Code);
        Assert.Equal("Execution Errors; Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response", ex.Error.Text);
        Assert.Equal(CommandErrorCondition.BadPayload, CommandError.GetCondition(ex.Error));
        Assert.True(CommandError.Is(ex.Error, CommandErrorCondition.BadPayload));
        Assert.False(CommandError.IsSessionGone(ex.Error));

        var echoed = CommandError.ExtractEchoedCommand(ex.Stanza);
        Assert.NotNull(echoed);
        Assert.Equal("create", (string?)echoed.Attribute("node"));
        Assert.Equal("9d17366d64a57a82614e7083fe00398a", (string?)echoed.Attribute("sessionid"));
        var form = CommandError.ExtractEchoedForm(ex.Stanza);
        Assert.NotNull(form);
        Assert.Equal(DataFormType.Submit, form.Type);
        Assert.Equal("sip:foo@example.onsip.com", form["from"]);
        Assert.Equal("sip:bar@example.onsip.com", form["to"]);
        Assert.Null(form["call-setup-id"]);
        Assert.Empty(CommandError.ExtractEchoedNotes(ex.Stanza));
    }

    [Theory]
    [InlineData("terminate", nameof(ActiveCallsSeed.TerminateErrorResponse), "Execution Errors; terminate call failed", "call-id", "an-invalid-callid")]
    [InlineData("transfer", nameof(ActiveCallsSeed.TransferErrorResponse), "Execution Errors; transfer call failed", "endpoint", "callee")]
    public async Task TerminateAndTransferErrorsEchoTheFormAndAnErrorNote(string node, string seedName, string text, string var, string value)
    {
        var reply = (string)typeof(ActiveCallsSeed).GetField(seedName)!.GetValue(null)!;
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(reply));

        var ex = await Assert.ThrowsAsync<XmppStanzaErrorException>(
            () => client.ExecuteAsync(Component, node, TransferForm(), ct: TestContext.Current.CancellationToken));

        Assert.Equal("bad-request", ex.Error.Condition);
        Assert.Equal(text, ex.Error.Text);
        Assert.Equal(CommandErrorCondition.BadPayload, CommandError.GetCondition(ex.Error));
        Assert.Equal([new CommandNote(CommandNoteType.Error, text)], CommandError.ExtractEchoedNotes(ex.Stanza));
        Assert.Equal(value, CommandError.ExtractEchoedForm(ex.Stanza)![var]);
        Assert.Equal("completed", (string?)CommandError.ExtractEchoedCommand(ex.Stanza)!.Attribute("status"));
    }

    [Fact]
    public async Task AuthFailureCarriesBadAction()
    {
        const string reply = """
            <iq from="commands.auth.xmpp.onsip.com" type="error" xml:lang="en" to="mock@example.com" id="test">
              <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain" sessionid="session-id">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="sip-address"><value>alice@example.com</value></field>
                  <field type="text-private" var="password"><value>password</value></field>
                  <field type="hidden" var="jid"/>
                </x>
              </command>
              <error type="modify" code="400">
                <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Execution Errors; base Authentication failed - invalid username or password.; missing response</text>
                <bad-action xmlns="http://jabber.org/protocol/commands"/>
              </error>
            </iq>
            """;
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(reply));

        var ex = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.ExecuteAsync(
            Jid.Parse("commands.auth.xmpp.onsip.com"), "authorize-plain", ct: TestContext.Current.CancellationToken));

        Assert.Equal(CommandErrorCondition.BadAction, CommandError.GetCondition(ex.Error));
        Assert.Equal(FormFieldType.TextPrivate, CommandError.ExtractEchoedForm(ex.Stanza)!.GetField("password")!.Type);
    }

    [Fact]
    public void ErrorsWithoutAnXep0050ConditionOrEchoYieldNothing()
    {
        var stanza = XElement.Parse("""
            <iq type="error" id="x"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><gone-fishing xmlns="urn:example"/></error></iq>
            """);
        var error = StanzaError.FromStanza(stanza);

        Assert.Null(CommandError.GetCondition(error));
        Assert.Null(CommandError.ExtractEchoedCommand(stanza));
        Assert.Null(CommandError.ExtractEchoedForm(stanza));
        Assert.Empty(CommandError.ExtractEchoedNotes(stanza));
    }

    [Fact]
    public void AMangledEchoedFormIsIgnoredRatherThanThrown()
    {
        var stanza = XElement.Parse("""
            <iq type="error" id="x"><command xmlns="http://jabber.org/protocol/commands" node="create"><x xmlns="jabber:x:data" type="weird"/></command>
            <error type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>
            """);
        Assert.Null(CommandError.ExtractEchoedForm(stanza));
        Assert.NotNull(CommandError.ExtractEchoedCommand(stanza));
    }

    [Theory]
    [InlineData(CommandErrorCondition.BadAction, "bad-action")]
    [InlineData(CommandErrorCondition.BadLocale, "bad-locale")]
    [InlineData(CommandErrorCondition.BadPayload, "bad-payload")]
    [InlineData(CommandErrorCondition.BadSessionId, "bad-sessionid")]
    [InlineData(CommandErrorCondition.MalformedAction, "malformed-action")]
    [InlineData(CommandErrorCondition.SessionExpired, "session-expired")]
    public void EveryXep0050ConditionIsRecognised(CommandErrorCondition condition, string name)
    {
        var error = new StanzaError(StanzaErrorType.Modify, "bad-request", ApplicationCondition: Ns.Commands + name);
        Assert.Equal(condition, CommandError.GetCondition(StanzaError.Parse(error.ToXml())));
    }

    [Fact]
    public void SameLocalNameInAnotherNamespaceIsNotAnXep0050Condition() =>
        Assert.Null(CommandError.GetCondition(new StanzaError(StanzaErrorType.Modify, "bad-request", ApplicationCondition: XName.Get("bad-payload", "urn:other"))));

    [Fact]
    public async Task TimeoutAndCancellationTokenReachTheSender()
    {
        var sender = new ScriptedIqSender().Reply(ActiveCallsSeed.TerminateSuccessResponse);
        var client = new AdHocCommandClient(sender);

        await client.ExecuteAsync(Component, "terminate", TerminateForm(), TimeSpan.FromSeconds(7), TestContext.Current.CancellationToken);
        Assert.Equal(TimeSpan.FromSeconds(7), sender.LastSent.Timeout);

        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync(Component, "terminate", TerminateForm(), ct: cts.Token));
    }

    [Fact]
    public async Task TimeoutsPropagateUnchanged()
    {
        var client = new AdHocCommandClient(new ScriptedIqSender().Throw(new XmppIqTimeoutException("iq-1", TimeSpan.FromSeconds(1))));
        await Assert.ThrowsAsync<XmppIqTimeoutException>(
            () => client.ExecuteAsync(Component, "create", CreateForm(), ct: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ANonSubmitFormIsRefusedBeforeSending()
    {
        var sender = new ScriptedIqSender();
        var client = new AdHocCommandClient(sender);

        await Assert.ThrowsAsync<ArgumentException>(() => client.ExecuteAsync(
            Component, "create", new DataForm(DataFormType.Form), ct: TestContext.Current.CancellationToken));
        Assert.Empty(sender.Sent);
    }

    [Theory]
    [InlineData("""<iq type="result" id="test"/>""")]
    [InlineData("""<iq type="result" id="test"><command xmlns="http://jabber.org/protocol/commands" node="create"/></iq>""")]
    [InlineData("""<iq type="result" id="test"><command xmlns="http://jabber.org/protocol/commands" node="create" status="done"/></iq>""")]
    public async Task ResultsWithoutAReadableCommandAreProtocolErrors(string reply)
    {
        var client = new AdHocCommandClient(new ScriptedIqSender().Reply(reply));
        await Assert.ThrowsAsync<XmppProtocolException>(
            () => client.ExecuteAsync(Component, "create", CreateForm(), ct: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ExecuteWithoutAFormSendsTheBareCommand()
    {
        var sender = new ScriptedIqSender().Reply(ActiveCallsSeed.TerminateSuccessResponse);
        await new AdHocCommandClient(sender).ExecuteAsync(Component, "terminate", ct: TestContext.Current.CancellationToken);
        XmlAssert.Equivalent("""<command xmlns="http://jabber.org/protocol/commands" node="terminate"/>""", sender.LastSent.Payload);
    }
}
