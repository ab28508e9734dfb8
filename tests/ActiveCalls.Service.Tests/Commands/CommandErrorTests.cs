using System.Text;
using System.Xml.Linq;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>Rejected forms and failed runs come back in the seed's shape: the command echoed, then a 400
/// <c>bad-request</c> with a "Validation Errors; …" or "Execution Errors; …" text and <c>bad-payload</c>.</summary>
public class CommandErrorTests
{
    /// <summary>OnSIP's own validation error for a create (reference notes §5, from OXJS's tests).</summary>
    private const string CreateValidationFixture = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="error" xml:lang="en"
            to="erick!junctionnetworks.com@dashboard.onsip.com/erocksbox" id="abb0a">
          <command xmlns="http://jabber.org/protocol/commands" node="create" sessionid="df9818099854adbecd803b6be17a1bd2">
            <x xmlns="jabber:x:data" type="submit">
              <field type="text-single" var="from"><value>foo</value></field>
              <field type="text-single" var="to"><value>bar</value></field>
            </x>
          </command>
          <error type="modify" code="400">
            <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
            <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Validation Errors; Field 'from' is in an invalid format with value: foo; Field 'to' is in an invalid format with value: bar</text>
            <bad-payload xmlns="http://jabber.org/protocol/commands"/>
          </error>
        </iq>
        """;

    private readonly CommandTestHost _host = new();

    private static XElement FixtureCommand() => new(XElement.Parse(CreateValidationFixture).Element(Ns.Commands + "command")!);

    private static StanzaError ErrorOf(XElement reply)
    {
        Assert.Equal("error", (string?)reply.Attribute("type"));
        return StanzaError.FromStanza(reply);
    }

    private static void AssertBadPayload(XElement reply, string text)
    {
        var error = ErrorOf(reply);
        Assert.Equal(new StanzaError(StanzaErrorType.Modify, "bad-request", text, Ns.Commands + "bad-payload", 400), error);
    }

    [Fact]
    public async Task AnInvalidCreateIsAnsweredExactlyLikeOnSipsFixture()
    {
        var command = FixtureCommand();
        command.Attribute("sessionid")!.Remove(); // OXJS sends single-stage commands; the session id in the echo is the responder's

        var reply = await _host.CommandAsync(command);

        SeedAssert.MatchesSeed(CreateValidationFixture, reply);
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("create", "Validation Errors; Field 'from' is required; Field 'to' is required")]
    [InlineData("terminate", "Validation Errors; Field 'call-id' is required; Field 'from-tag' is required; Field 'to-tag' is required")]
    [InlineData("transfer", "Validation Errors; Field 'call-id' is required; Field 'from-tag' is required; Field 'to-tag' is required; Field 'endpoint' is required; Field 'target-uri' is required")]
    [InlineData("cancel", "Validation Errors; Field 'call-id' is required; Field 'from-tag' is required")]
    public async Task AnEmptyFormMissesEveryRequiredField(string node, string text)
    {
        var reply = await _host.CommandAsync(Stanzas.Command(node, form: Stanzas.Submit()));

        AssertBadPayload(reply, text);
        XmlAssert.Equivalent($"""<x xmlns="jabber:x:data" type="submit"/>""", reply.Element(Ns.Commands + "command")!.Element(Ns.DataForms + "x")!);
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("create", "from", "")]
    [InlineData("create", "to", null)]
    [InlineData("terminate", "call-id", " ")]
    [InlineData("terminate", "from-tag", null)]
    [InlineData("terminate", "to-tag", "")]
    [InlineData("transfer", "call-id", null)]
    [InlineData("transfer", "from-tag", "")]
    [InlineData("transfer", "to-tag", null)]
    [InlineData("transfer", "endpoint", null)]
    [InlineData("transfer", "target-uri", "\n")]
    [InlineData("cancel", "call-id", null)]
    [InlineData("cancel", "from-tag", "")]
    public async Task EachRequiredFieldIsRequired(string node, string var, string? value)
    {
        var reply = await _host.CommandAsync(Stanzas.Command(node, form: WithField(node, var, value)));

        AssertBadPayload(reply, $"Validation Errors; Field '{var}' is required");
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("create", "from", "foo")]
    [InlineData("create", "from", "sip:foo")]
    [InlineData("create", "from", "foo@example.com")]
    [InlineData("create", "from", "sip:foo bar@example.com")]
    [InlineData("create", "to", "bar")]
    [InlineData("create", "to", "15555554567@example.onsip.com")]
    [InlineData("create", "to", "tel:+15555554567")]
    [InlineData("create", "call-setup-id", "1352821510415667")]
    [InlineData("create", "call-setup-id", "abc")]
    [InlineData("create", "call-setup-id", "abcd_123")]
    [InlineData("terminate", "call-id", "a b")]
    [InlineData("terminate", "from-tag", "a\tb")]
    [InlineData("terminate", "to-tag", "a\u0085b")]
    [InlineData("transfer", "endpoint", "both")]
    [InlineData("transfer", "endpoint", "CALLER")]
    [InlineData("transfer", "target-uri", "bob@example.com")]
    [InlineData("transfer", "target-uri", "sip:bob@example.com;transport=tcp")]
    [InlineData("cancel", "call-id", "a\u007fb")]
    [InlineData("cancel", "from-tag", "a b")]
    public async Task EachFieldIsCheckedBeforeTheEngineIsCalled(string node, string var, string value)
    {
        var reply = await _host.CommandAsync(Stanzas.Command(node, form: WithField(node, var, value)));

        AssertBadPayload(reply, $"Validation Errors; Field '{var}' is in an invalid format with value: {value}");
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task ATooLongDialogValueIsRefusedAndQuotedShort()
    {
        var callId = new string('c', 300);

        var reply = await _host.CommandAsync(Stanzas.Command("terminate", form: Stanzas.Terminate(callId: callId)));

        AssertBadPayload(reply, $"Validation Errors; Field 'call-id' is in an invalid format with value: {new string('c', 128)}…");
        Assert.Equal(callId, reply.Descendants(Ns.DataForms + "value").First().Value);
    }

    [Fact]
    public async Task TheEchoCarriesTheFormAsSubmittedUnknownFieldsIncluded()
    {
        var form = Stanzas.Create(from: "foo");
        form.Add(new XElement(Ns.DataForms + "field", new XAttribute("var", "x-extra"), new XElement(Ns.DataForms + "value", "kept")));

        var reply = await _host.CommandAsync(Stanzas.Command("create", action: "execute", form: form));

        var echo = reply.Element(Ns.Commands + "command")!;
        Assert.Null(echo.Attribute("action"));
        Assert.Null(echo.Attribute("status"));
        Assert.Equal("create", (string?)echo.Attribute("node"));
        SeedAssert.IsSessionId((string?)echo.Attribute("sessionid"));
        XmlAssert.Equivalent(form, echo.Element(Ns.DataForms + "x")!);
        Assert.Same(reply.Elements().Last(), reply.Element("error"));
    }

    [Fact]
    public async Task TheSeedsCreateExecutionErrorIsReproduced()
    {
        var sessionId = await _host.StartAsync("create");
        _host.Engine.FailNext("Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response");
        var command = Stanzas.SeedCommand(ActiveCallsSeed.CreateErrorResponse, sessionId);

        var reply = await _host.CommandAsync(command);

        SeedAssert.MatchesSeed(ActiveCallsSeed.CreateErrorResponse, reply, sessionId);
        Assert.Equal(new CallSetup("sip:foo@example.onsip.com", "sip:bar@example.onsip.com",
            ((CreateCall)_host.Engine.SingleCall).Setup.CallSetupId, CommandTestHost.Alice), ((CreateCall)_host.Engine.SingleCall).Setup);
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.TerminateErrorResponse), "terminate call failed")]
    [InlineData(nameof(ActiveCallsSeed.TransferErrorResponse), "transfer call failed")]
    public async Task TheSeedsTerminateAndTransferExecutionErrorsAreReproduced(string seedName, string message)
    {
        var seed = (string)typeof(ActiveCallsSeed).GetField(seedName)!.GetValue(null)!;
        var submitted = Stanzas.SeedCommand(seed);
        submitted.Attribute("sessionid")!.Remove();
        submitted.Attribute("status")!.Remove();
        submitted.Element(Ns.Commands + "note")!.Remove();
        _host.Engine.FailNext(message);

        var reply = await _host.CommandAsync(submitted);

        SeedAssert.MatchesSeed(seed, reply);
        Assert.Single(_host.Engine.Calls);
    }

    [Fact]
    public async Task ACancelExecutionErrorHasTheTerminateShape()
    {
        _host.Engine.FailNext("no unanswered call a-ringing-callid");

        var reply = await _host.CommandAsync(Stanzas.Command("cancel", form: Stanzas.Cancel()));

        var sessionId = (string)reply.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
        XmlAssert.Equivalent($"""
            <iq>
              <command xmlns="http://jabber.org/protocol/commands" status="completed" node="cancel" sessionid="{sessionId}">
                {Stanzas.Cancel()}
                <note type="error">Execution Errors; no unanswered call a-ringing-callid</note>
              </command>
              <error type="modify" code="400">
                <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Execution Errors; no unanswered call a-ringing-callid</text>
                <bad-payload xmlns="http://jabber.org/protocol/commands"/>
              </error>
            </iq>
            """, new XElement("iq", reply.Elements()));
    }

    [Fact]
    public async Task AnUnexpectedFailureIsAnInternalServerErrorThatTellsNothingAndIsLogged()
    {
        _host.Engine.FailNext(new InvalidOperationException("secret detail at /srv/engine.cs:42"));

        var reply = await _host.SendAsync(ActiveCallsSeed.TerminateSingleStageRequest);

        var error = ErrorOf(reply);
        Assert.Equal("internal-server-error", error.Condition);
        Assert.Null(error.Text);
        Assert.Single(reply.Elements());
        Assert.DoesNotContain("secret", reply.ToString(), StringComparison.Ordinal);
        var logged = Assert.Single(_host.Logger.Entries, e => e.Level == LogLevel.Error);
        Assert.IsType<InvalidOperationException>(logged.Exception);
    }

    [Fact]
    public async Task AnUnknownNodeIsItemNotFound()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("reboot", form: Stanzas.Submit()));

        XmlAssert.Equivalent("""<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>""", Assert.Single(reply.Elements()));
    }

    [Fact]
    public async Task ACommandWithoutANodeIsItemNotFound()
    {
        var reply = await _host.CommandAsync(new XElement(Ns.Commands + "command"));

        Assert.Equal("item-not-found", ErrorOf(reply).Condition);
    }

    [Fact]
    public async Task ACommandInAnIqGetIsABadRequest()
    {
        var reply = await _host.SendAsync(Stanzas.Get(Stanzas.Command("create")));

        var error = ErrorOf(reply);
        Assert.Equal((StanzaErrorType.Modify, "bad-request"), (error.Type, error.Condition));
        Assert.Equal(0, _host.Component.Sessions.Count);
    }

    [Fact]
    public async Task AnUnknownActionIsMalformed()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("create", action: "explode", form: Stanzas.Create()));

        Assert.Equal(new StanzaError(StanzaErrorType.Modify, "bad-request", null, Ns.Commands + "malformed-action", 400), ErrorOf(reply));
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("next")]
    [InlineData("prev")]
    public async Task NextAndPrevWithoutASessionAreBadActions(string action)
    {
        var reply = await _host.CommandAsync(Stanzas.Command("create", action: action, form: Stanzas.Create()));

        Assert.Equal("bad-action", ErrorOf(reply).ApplicationConditionName);
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("form")]
    [InlineData("result")]
    [InlineData("cancel")]
    public async Task OnlyASubmitFormIsRun(string type)
    {
        var form = Stanzas.Create();
        form.SetAttributeValue("type", type);

        var reply = await _host.CommandAsync(Stanzas.Command("create", form: form));

        AssertBadPayload(reply, $"Validation Errors; The data form must be of type 'submit', not '{type}'");
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task AnUnreadableFormIsABadPayload()
    {
        var form = Stanzas.Create();
        form.Elements().First().SetAttributeValue("type", "text-weird");

        var reply = await _host.CommandAsync(Stanzas.Command("create", form: form));

        var error = ErrorOf(reply);
        Assert.Equal("bad-payload", error.ApplicationConditionName);
        Assert.StartsWith("Validation Errors; Malformed data form: ", error.Text, StringComparison.Ordinal);
        XmlAssert.Equivalent(form, reply.Element(Ns.Commands + "command")!.Element(Ns.DataForms + "x")!);
    }

    [Fact]
    public async Task MetacharactersInAValidValueReachTheEngineIntact()
    {
        const string callId = "<call>&id\"'@]]>host";
        const string tag = "a'b`c~d!e%f*g_h+i";

        var reply = await _host.CommandAsync(Stanzas.Command("terminate", form: Stanzas.Terminate(callId, tag, tag)));

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.Equal(new TerminateCall(new DialogId(callId, tag, tag)), _host.Engine.SingleCall);
    }

    [Fact]
    public async Task MetacharactersInARejectedValueComeBackEscapedInTheTextAndTheEcho()
    {
        const string from = "sip:<script>&amp;]]>\"x'@example.com";
        var request = new XElement("iq", new XAttribute("type", "set"), Stanzas.Command("create", form: Stanzas.Create(from: from)));

        var reply = await _host.SendAsync(request);

        AssertBadPayload(reply, $"Validation Errors; Field 'from' is in an invalid format with value: {from}");
        Assert.Equal(from, reply.Descendants(Ns.DataForms + "value").First().Value);
        var wire = Encoding.UTF8.GetString(XmppStreamWriter.Serialize(reply));
        Assert.DoesNotContain("<script>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("]]>", wire, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;&amp;amp;]]&gt;", wire, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetacharactersInAnEngineMessageComeBackEscaped()
    {
        _host.Engine.FailNext("no call '<b>&]]>'");

        var reply = await _host.CommandAsync(Stanzas.Command("terminate", form: Stanzas.Terminate()));

        Assert.Equal("Execution Errors; no call '<b>&]]>'", ErrorOf(reply).Text);
        Assert.Equal("Execution Errors; no call '<b>&]]>'", reply.Descendants(Ns.Commands + "note").Single().Value);
    }

    [Fact]
    public async Task CharactersXmlCannotCarryInAnEngineMessageAreReplacedNotSent()
    {
        _host.Engine.FailNext("Bad Request: \u0001odd\uFFFE reason \uD800 😀");

        var reply = await _host.CommandAsync(Stanzas.Command("terminate", form: Stanzas.Terminate()));

        Assert.Equal("Execution Errors; Bad Request: \uFFFDodd\uFFFD reason \uFFFD 😀", ErrorOf(reply).Text);
    }

    private static XElement WithField(string node, string var, string? value)
    {
        var form = node switch
        {
            "create" => Stanzas.Create(callSetupId: "AbCd1234"),
            "terminate" => Stanzas.Terminate(),
            "transfer" => Stanzas.Transfer(),
            _ => Stanzas.Cancel(),
        };
        var field = form.Elements().Single(f => (string?)f.Attribute("var") == var);
        field.RemoveNodes();
        if (value is not null) field.Add(new XElement(Ns.DataForms + "value", value));
        return form;
    }
}
