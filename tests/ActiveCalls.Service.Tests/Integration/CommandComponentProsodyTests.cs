using System.Xml.Linq;
using ActiveCalls.Service.Tests.Commands;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Prosody;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Tests.Integration;

/// <summary>
/// The seed's conversations, replayed by a real client through a real Prosody to the command component: every request
/// stanza of the seed goes out as the client's IQ to <c>commands.active-calls.&lt;domain&gt;</c>, and every reply must
/// have the seed's shape.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class CommandComponentProsodyTests : IClassFixture<CommandComponentOnProsody>
{
    private readonly CommandComponentOnProsody _host;

    public CommandComponentProsodyTests(CommandComponentOnProsody host)
    {
        _host = host;
        _host.Engine.Reset();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private string Requester => _host.Client.LocalJid!.ToString();

    private Task<XElement> SendAsync(XElement command) =>
        _host.Client.SendIqAsync(_host.CommandsJid, IqType.Set, command, cancellationToken: Ct);

    private async Task<XElement> SendExpectingErrorAsync(XElement command, Gateway.Xmpp.Client.XmppClient? client = null)
    {
        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() =>
            (client ?? _host.Client).SendIqAsync(_host.CommandsJid, IqType.Set, command, cancellationToken: Ct));
        return error.Stanza;
    }

    private static string Seed(string name) => (string)typeof(ActiveCallsSeed).GetField(name)!.GetValue(null)!;

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.CreateSingleStageRequest), nameof(ActiveCallsSeed.CreateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TerminateSingleStageRequest), nameof(ActiveCallsSeed.TerminateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TransferSingleStageRequest), nameof(ActiveCallsSeed.TransferSuccessResponse))]
    public async Task TheSeedsSingleStageRequestsGetTheSeedsResponses(string request, string response)
    {
        var command = Stanzas.SeedCommand(Seed(request));

        var reply = await SendAsync(command);

        var node = (string)command.Attribute("node")!;
        SeedAssert.MatchesSeed(Seed(response), reply, callSetupId: node == "create" ? "AbCd1234" : null);
        Assert.Equal(ExpectedCall(node, "AbCd1234"), _host.Engine.SingleCall);
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.CreateMultiStageStartRequest), nameof(ActiveCallsSeed.CreateMultiStageFormResponse),
        nameof(ActiveCallsSeed.CreateMultiStageSubmission), nameof(ActiveCallsSeed.CreateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TerminateMultiStageStartRequest), nameof(ActiveCallsSeed.TerminateMultiStageFormResponse),
        nameof(ActiveCallsSeed.TerminateMultiStageSubmission), nameof(ActiveCallsSeed.TerminateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TransferMultiStageStartRequest), nameof(ActiveCallsSeed.TransferMultiStageFormResponse),
        nameof(ActiveCallsSeed.TransferMultiStageSubmission), nameof(ActiveCallsSeed.TransferSuccessResponse))]
    public async Task TheSeedsMultiStageConversationsRunAsTheSeedShows(string start, string form, string submission, string response)
    {
        var formReply = await SendAsync(Stanzas.SeedCommand(Seed(start)));

        SeedAssert.MatchesSeed(Seed(form), formReply);
        Assert.Empty(_host.Engine.Calls);
        var sessionId = (string)formReply.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
        var node = (string)formReply.Element(Ns.Commands + "command")!.Attribute("node")!;

        var reply = await SendAsync(Stanzas.SeedCommand(Seed(submission), sessionId));

        SeedAssert.MatchesSeed(Seed(response), reply, sessionId, callSetupId: node == "create" ? "aBcD4321" : null);
        Assert.Equal(ExpectedCall(node, "aBcD4321"), _host.Engine.SingleCall);
    }

    [Fact]
    public async Task CancelRunsSingleStage()
    {
        var reply = await SendAsync(Stanzas.Command("cancel", form: Stanzas.Cancel("ringing@10.0.0.1", "ft-1")));

        var command = reply.Element(Ns.Commands + "command")!;
        Assert.Equal(("completed", "cancel"), ((string?)command.Attribute("status"), (string?)command.Attribute("node")));
        SeedAssert.IsSessionId((string?)command.Attribute("sessionid"));
        Assert.Equal(new CancelCall("ringing@10.0.0.1", "ft-1"), _host.Engine.SingleCall);
    }

    [Fact]
    public async Task OurOwnAdHocClientRunsACancelSessionThroughItsForm()
    {
        var client = new AdHocCommandClient(_host.Client);
        await using var session = await client.StartAsync(_host.CommandsJid, "cancel", ct: Ct);
        Assert.Equal("Cancel a Call", session.Form!.Title);
        var form = session.Form.ToFillable();
        form.SetAnswer("call-id", "abc@host");
        form.SetAnswer("from-tag", "tag-1");

        var result = await session.ExecuteAsync(form.ToSubmitForm(), Ct);

        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal(session.SessionId, result.SessionId);
        Assert.Equal(new CancelCall("abc@host", "tag-1"), _host.Engine.SingleCall);
    }

    [Fact]
    public async Task TheCancelActionEndsASessionOverTheWire()
    {
        var client = new AdHocCommandClient(_host.Client);
        var session = await client.StartAsync(_host.CommandsJid, "create", ct: Ct);

        await session.CancelAsync(Ct);

        Assert.Equal(CommandStatus.Canceled, session.Status);
        var stanza = await SendExpectingErrorAsync(Stanzas.Command("create", session.SessionId, form: Stanzas.Create()));
        Assert.Equal("bad-sessionid", StanzaError.FromStanza(stanza).ApplicationConditionName);
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task AnotherResourceCannotUseTheSession()
    {
        var started = await SendAsync(Stanzas.Command("terminate"));
        var sessionId = (string)started.Element(Ns.Commands + "command")!.Attribute("sessionid")!;

        var stanza = await SendExpectingErrorAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate()), _host.OtherResource);

        XmlAssert.Equivalent("""
            <error type="modify" code="400">
              <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
              <bad-sessionid xmlns="http://jabber.org/protocol/commands"/>
            </error>
            """, Assert.Single(SeedAssert.WithoutStreamNamespace(stanza).Elements()));
        Assert.Empty(_host.Engine.Calls);
        Assert.Equal("completed", (string?)(await SendAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate())))
            .Element(Ns.Commands + "command")!.Attribute("status"));
    }

    [Fact]
    public async Task AValidationErrorComesBackInOnSipsShapeWithTheCommandEchoed()
    {
        var stanza = await SendExpectingErrorAsync(Stanzas.Command("create", form: Stanzas.Submit(("from", "foo"), ("to", "bar"))));

        Assert.Equal(_host.CommandsJid.ToString(), (string?)stanza.Attribute("from"));
        var echo = stanza.Element(Ns.Commands + "command")!;
        SeedAssert.IsSessionId((string?)echo.Attribute("sessionid"));
        XmlAssert.Equivalent($"""
            <iq>
              <command xmlns="http://jabber.org/protocol/commands" node="create" sessionid="{(string)echo.Attribute("sessionid")!}">
                <x xmlns="jabber:x:data" type="submit">
                  <field var="from"><value>foo</value></field>
                  <field var="to"><value>bar</value></field>
                </x>
              </command>
              <error type="modify" code="400">
                <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Validation Errors; Field 'from' is in an invalid format with value: foo; Field 'to' is in an invalid format with value: bar</text>
                <bad-payload xmlns="http://jabber.org/protocol/commands"/>
              </error>
            </iq>
            """, new XElement("iq", SeedAssert.WithoutStreamNamespace(stanza).Elements()));
        // The seed's xml:lang="en" on error IQs: Prosody stamps the stream's language on what it routes.
        Assert.Equal("en", (string?)stanza.Attribute(XNamespace.Xml + "lang"));
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.TerminateErrorResponse), "terminate call failed")]
    [InlineData(nameof(ActiveCallsSeed.TransferErrorResponse), "transfer call failed")]
    public async Task AnExecutionErrorComesBackAsTheSeedShows(string seedName, string message)
    {
        var submitted = Stanzas.SeedCommand(Seed(seedName));
        submitted.Attribute("sessionid")!.Remove();
        submitted.Attribute("status")!.Remove();
        submitted.Element(Ns.Commands + "note")!.Remove();
        _host.Engine.FailNext(message);

        var stanza = await SendExpectingErrorAsync(submitted);

        SeedAssert.MatchesSeed(Seed(seedName), stanza);
    }

    [Fact]
    public async Task TheSeedsCreateExecutionErrorComesBackAsTheSeedShows()
    {
        var started = await SendAsync(Stanzas.Command("create"));
        var sessionId = (string)started.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
        _host.Engine.FailNext("Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response");

        var stanza = await SendExpectingErrorAsync(Stanzas.SeedCommand(ActiveCallsSeed.CreateErrorResponse, sessionId));

        SeedAssert.MatchesSeed(ActiveCallsSeed.CreateErrorResponse, stanza, sessionId);
    }

    [Fact]
    public async Task MetacharactersTravelBothWaysAsText()
    {
        const string callId = "<call>&id\"'@]]>host";
        await SendAsync(Stanzas.Command("terminate", form: Stanzas.Terminate(callId, "f'tag", "t`tag")));
        Assert.Equal(new TerminateCall(new DialogId(callId, "f'tag", "t`tag")), _host.Engine.SingleCall);

        const string from = "sip:<script>&amp;]]>@example.com";
        var stanza = await SendExpectingErrorAsync(Stanzas.Command("create", form: Stanzas.Create(from: from)));

        Assert.Equal($"Validation Errors; Field 'from' is in an invalid format with value: {from}", StanzaError.FromStanza(stanza).Text);
        Assert.Equal(from, stanza.Descendants(Ns.DataForms + "value").First().Value);
        Assert.DoesNotContain(stanza.Descendants(), e => e.Name.LocalName == "script");

        _host.Engine.FailNext("no call '<b>&]]>'");
        var failed = await SendExpectingErrorAsync(Stanzas.Command("terminate", form: Stanzas.Terminate()));
        Assert.Equal("Execution Errors; no call '<b>&]]>'", failed.Descendants(Ns.Commands + "note").Single().Value);
    }

    [Fact]
    public async Task DiscoListsTheFourCommands()
    {
        var commands = await new AdHocCommandClient(_host.Client).ListCommandsAsync(_host.CommandsJid, Ct);

        Assert.Equal(
            [("create", "Create Call"), ("terminate", "Terminate Call"), ("transfer", "Transfer Call"), ("cancel", "Cancel Call")],
            commands.Select(c => (c.Node, c.Name)));
        Assert.All(commands, c => Assert.Equal(_host.CommandsJid, c.Jid));

        var info = await _host.Client.SendIqAsync(_host.CommandsJid, IqType.Get, new XElement(Ns.DiscoInfo + "query"), cancellationToken: Ct);
        var identity = info.Descendants(Ns.DiscoInfo + "identity").Single();
        Assert.Equal(("automation", "command-list"), ((string?)identity.Attribute("category"), (string?)identity.Attribute("type")));
        Assert.Contains(info.Descendants(Ns.DiscoInfo + "feature"), f => (string?)f.Attribute("var") == Ns.Commands.NamespaceName);
    }

    [Fact]
    public async Task AnUnknownNodeIsItemNotFound()
    {
        var stanza = await SendExpectingErrorAsync(Stanzas.Command("reboot"));

        var error = StanzaError.FromStanza(stanza);
        Assert.Equal((StanzaErrorType.Cancel, "item-not-found"), (error.Type, error.Condition));
    }

    private EngineCall ExpectedCall(string node, string callSetupId) => node switch
    {
        "create" => new CreateCall(new CallSetup("sip:foo@example.onsip.com", "sip:bar@example.onsip.com", callSetupId, Requester)),
        "terminate" => new TerminateCall(new DialogId("a-valid-callid", "a-from-tag", "a-to-tag")),
        "transfer" => new TransferCall(new DialogId("a-valid-call-id", "the-from-tag", "the-to-tag"), TransferEndpoint.Caller, "sip:bob@example.com"),
        _ => throw new ArgumentOutOfRangeException(nameof(node)),
    };
}
