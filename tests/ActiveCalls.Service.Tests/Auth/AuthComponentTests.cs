using System.Xml.Linq;
using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.Auth;

/// <summary>authorize-plain, fed the reference document's own requests (§3.1) and held to its responses (§3.2, §3.3).</summary>
public sealed class AuthComponentTests : IDisposable
{
    private const string AuthJid = "commands.auth.xmpp.onsip.com";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2012, 11, 13, 15, 9, 58, 250, TimeSpan.Zero));
    private readonly AuthorizationStore _store;
    private readonly FakeComponentStream _stream = new();
    private readonly IDisposable _attachment;

    public AuthComponentTests()
    {
        _store = new AuthorizationStore(_time);
        var component = new AuthComponent(TestUsers.Directory(), _store, TestUsers.Options(), _time);
        _attachment = component.Attach(_stream);
    }

    public void Dispose()
    {
        _attachment.Dispose();
        _store.Dispose();
    }

    /// <summary>§3.1, the wiki's request form: an empty hidden jid means the sender.</summary>
    private const string WikiRequest = """
        <iq type="set" to="commands.auth.xmpp.onsip.com" id="ab31a">
          <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain">
            <x xmlns="jabber:x:data" type="submit">
              <field type="text-single" var="sip-address"><value>foo@example.onsip.com</value></field>
              <field type="text-private" var="password"><value>goodpassword</value></field>
              <field type="hidden" var="jid"/>
            </x>
          </command>
        </iq>
        """;

    /// <summary>§3.1 sample B: auth-for-all, untyped fields, a full JID to authorise.</summary>
    private const string SampleBRequest = """
        <iq to='commands.auth.xmpp.onsip.com' type='set' id='5020' xmlns='jabber:client'>
          <command xmlns='http://jabber.org/protocol/commands' node='authorize-plain'>
            <x xmlns='jabber:x:data' type='submit'>
              <field var='sip-address'><value>hiro@example.onsip.com</value></field>
              <field var='password'><value>webpassword12345</value></field>
              <field var='auth-for-all'><value>true</value></field>
              <field var='jid'><value>hiro@example.onsip.com/psi</value></field>
            </x>
          </command>
        </iq>
        """;

    private static string Submit(params (string Var, string? Value)[] fields) =>
        $"""
        <iq type="set" to="{AuthJid}" id="t1">
          <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain">
            <x xmlns="jabber:x:data" type="submit">{string.Concat(fields.Select(f =>
                f.Value is null ? $"<field var='{f.Var}'/>" : $"<field var='{f.Var}'><value>{f.Value}</value></field>"))}</x>
          </command>
        </iq>
        """;

    [Fact]
    public async Task TheWikiRequestAuthorisesTheSenderUntilAnHourFromNowInTheReferenceResultShape()
    {
        var reply = await _stream.RequestAsync(WikiRequest, "foo@example.onsip.com/portal");

        var command = reply.Element(Ns.Commands + "command")!;
        var sessionId = (string)command.Attribute("sessionid")!;
        Assert.Matches("^[0-9a-f]{32}$", sessionId);
        XmlAssert.Equivalent($"""
            <iq from="commands.auth.xmpp.onsip.com" type="result" id="ab31a" to="foo@example.onsip.com/portal">
              <command xmlns="http://jabber.org/protocol/commands" status="completed" node="authorize-plain" sessionid="{sessionId}">
                <note type="info">JID 'foo@example.onsip.com' has been authorized to access resources for SIP Address(es) 'foo@example.onsip.com' until 2012-11-13T16:09:58Z</note>
                <x xmlns="jabber:x:data" type="result">
                  <field type="fixed" var="expires"><value>2012-11-13T16:09:58Z</value></field>
                  <field type="fixed" var="sip"><value>foo@example.onsip.com</value></field>
                </x>
              </command>
            </iq>
            """, reply);
        Assert.Equal(new DateTimeOffset(2012, 11, 13, 16, 9, 58, TimeSpan.Zero), _store.ExpiryOf(Jid.Parse("foo@example.onsip.com"), "foo@example.onsip.com"));
    }

    [Fact]
    public async Task SampleBAuthorisesTheBareJidOfTheGivenFullJidForEveryAddressOfTheOwner()
    {
        // Sent by someone else: authorising another JID is allowed (reference §3: "itself (or another JID)").
        var reply = await _stream.RequestAsync(SampleBRequest, "assistant@example.onsip.com/desk");

        var command = reply.Element(Ns.Commands + "command")!;
        XmlAssert.Equivalent($"""
            <command xmlns="http://jabber.org/protocol/commands" status="completed" node="authorize-plain" sessionid="{(string)command.Attribute("sessionid")!}">
              <note type="info">JID 'hiro@example.onsip.com' has been authorized to access resources for SIP Address(es) 'hiro@example.onsip.com,hiro_marketing@example.onsip.com' until 2012-11-13T16:09:58Z</note>
              <x xmlns="jabber:x:data" type="result">
                <field type="fixed" var="expires"><value>2012-11-13T16:09:58Z</value></field>
                <field type="fixed" var="sip"><value>hiro@example.onsip.com</value></field>
                <field type="fixed" var="sip"><value>hiro_marketing@example.onsip.com</value></field>
              </x>
            </command>
            """, command);
        Assert.Equal([TestUsers.Hiro, TestUsers.HiroMarketing], _store.AddressesFor(Jid.Parse("hiro@example.onsip.com/any")).Order(StringComparer.Ordinal));
        Assert.Empty(_store.AddressesFor(Jid.Parse("assistant@example.onsip.com")));
    }

    [Fact]
    public async Task OurOwnCommandClientReadsTheResultAsOnSipsClientsDo()
    {
        var client = new AdHocCommandClient(_stream.ClientAt(Jid.Parse("hiro@example.onsip.com/psi")));
        var form = DataForm.Submit().Add("sip-address", TestUsers.Hiro).Add("password", TestUsers.HiroPassword).Add("auth-for-all", true).Build();

        var result = await client.ExecuteAsync(Jid.Parse(AuthJid), AuthComponent.AuthorizeNode, form, ct: TestContext.Current.CancellationToken);

        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal("2012-11-13T16:09:58Z", result.Form!.GetValue("expires"));
        Assert.Equal([TestUsers.Hiro, TestUsers.HiroMarketing], result.Form.GetValues("sip"));
    }

    [Fact]
    public async Task AWrongPasswordIsRefusedInTheReferenceErrorShapeEchoingTheCommand()
    {
        var reply = await _stream.RequestAsync("""
            <iq type="set" to="commands.auth.xmpp.onsip.com" id="test">
              <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="sip-address"><value>alice@example.com</value></field>
                  <field type="text-private" var="password"><value>password</value></field>
                  <field type="hidden" var="jid"/>
                </x>
              </command>
            </iq>
            """, "mock@example.com");

        var sessionId = (string)reply.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
        XmlAssert.Equivalent($"""
            <iq from="commands.auth.xmpp.onsip.com" type="error" to="mock@example.com" id="test">
              <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain" sessionid="{sessionId}">
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
            """, reply);
        Assert.Empty(_store.AddressesFor(Jid.Parse("mock@example.com")));
    }

    [Theory]
    [InlineData("nobody@example.com", "password")]
    [InlineData("alice@example.com", "ALICE-PASSWORD")]
    [InlineData("alice@example.com", "alice-password ")]
    public async Task AnUnknownAddressOrAnyOtherPasswordIsTheSameExecutionError(string address, string password)
    {
        var reply = await _stream.RequestAsync(Submit(("sip-address", address), ("password", password)), "mock@example.com/r");

        var error = StanzaError.FromStanza(reply);
        Assert.Equal(("bad-request", "bad-action", 400), (error.Condition, error.ApplicationConditionName, error.Code));
        Assert.Equal(AuthComponent.AuthenticationFailedText, error.Text);
    }

    [Theory]
    [InlineData("sip:alice@example.com")]
    [InlineData("  ALICE@example.com ")]
    public async Task TheAddressMayCarrySipAndAnyCase(string address)
    {
        var reply = await _stream.RequestAsync(Submit(("sip-address", address), ("password", TestUsers.AlicePassword)), "alice@example.com/r");

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.True(_store.IsAuthorized(Jid.Parse("alice@example.com"), TestUsers.Alice));
    }

    [Theory]
    [InlineData("1", 2)]
    [InlineData("TRUE", 2)]
    [InlineData("0", 1)]
    [InlineData("false", 1)]
    [InlineData(null, 1)]
    public async Task AuthForAllTakesXmlBooleans(string? value, int addresses)
    {
        var reply = await _stream.RequestAsync(Submit(("sip-address", TestUsers.Alice), ("password", TestUsers.AlicePassword), ("auth-for-all", value)), "alice@example.com/r");

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.Equal(addresses, _store.AddressesFor(Jid.Parse("alice@example.com")).Count);
    }

    [Fact]
    public async Task MissingFieldsAreValidationErrorsNamingEachField()
    {
        var reply = await _stream.RequestAsync(Submit(("sip-address", null), ("password", "")), "alice@example.com/r");

        var error = StanzaError.FromStanza(reply);
        Assert.Equal((StanzaErrorType.Modify, "bad-request", "bad-payload", 400), (error.Type, error.Condition, error.ApplicationConditionName, error.Code));
        Assert.Equal("Validation Errors; Field 'sip-address' is required; Field 'password' is required", error.Text);
        Assert.NotNull(reply.Element(Ns.Commands + "command")?.Element(Ns.DataForms + "x"));
    }

    [Fact]
    public async Task MalformedValuesAreValidationErrorsQuotingTheValue()
    {
        var reply = await _stream.RequestAsync(Submit(("sip-address", "not-an-address"), ("password", "p"), ("jid", "a@b@c"), ("auth-for-all", "yes")), "alice@example.com/r");

        Assert.Equal(
            "Validation Errors; Field 'sip-address' is in an invalid format with value: not-an-address; Field 'jid' is in an invalid format with value: a@b@c; Field 'auth-for-all' is in an invalid format with value: yes",
            StanzaError.FromStanza(reply).Text);
    }

    [Fact]
    public async Task AnEmptyCommandAnswersTheAuthorizeForm()
    {
        var client = new AdHocCommandClient(_stream.ClientAt(Jid.Parse("alice@example.com/r")));

        await using var session = await client.StartAsync(Jid.Parse(AuthJid), AuthComponent.AuthorizeNode, ct: TestContext.Current.CancellationToken);

        Assert.Equal(CommandStatus.Executing, session.Status);
        var form = session.Form!;
        Assert.Equal(("Authorize", DataFormType.Form), (form.Title, form.Type));
        Assert.Equal(
            [("sip-address", FormFieldType.TextSingle, true), ("password", FormFieldType.TextPrivate, true), ("jid", FormFieldType.Hidden, false), ("auth-for-all", FormFieldType.Boolean, false)],
            form.Fields.Select(f => (f.Var!, f.Type, f.Required)));

        // The form filled in and completed in the same session authorises, as a single-stage request does.
        var fillable = form.ToFillable();
        fillable.SetAnswer("sip-address", TestUsers.Alice);
        fillable.SetAnswer("password", TestUsers.AlicePassword);
        var result = await session.ProceedAsync(CommandAction.Complete, fillable.ToSubmitForm(), TestContext.Current.CancellationToken);
        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.True(_store.IsAuthorized(Jid.Parse("alice@example.com"), TestUsers.Alice));
    }

    [Fact]
    public async Task CancellingAnswersCanceled()
    {
        var reply = await _stream.RequestAsync($"""
            <iq type="set" to="{AuthJid}" id="c1"><command xmlns="http://jabber.org/protocol/commands" node="authorize-plain" sessionid="s1" action="cancel"/></iq>
            """, "alice@example.com/r");

        XmlAssert.Equivalent("""<command xmlns="http://jabber.org/protocol/commands" node="authorize-plain" sessionid="s1" status="canceled"/>""", reply.Elements().Single());
    }

    [Fact]
    public async Task AnUnknownCommandIsItemNotFound()
    {
        var reply = await _stream.RequestAsync($"""
            <iq type="set" to="{AuthJid}" id="c1"><command xmlns="http://jabber.org/protocol/commands" node="create"/></iq>
            """, "alice@example.com/r");

        Assert.Equal("item-not-found", StanzaError.FromStanza(reply).Condition);
    }

    [Fact]
    public async Task TheGrantExpiresAfterTheConfiguredLifetime()
    {
        await _stream.RequestAsync(WikiRequest, "foo@example.onsip.com/portal");
        var foo = Jid.Parse("foo@example.onsip.com");

        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.True(_store.IsAuthorized(foo, TestUsers.Foo));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(_store.IsAuthorized(foo, TestUsers.Foo));
    }

    [Fact]
    public async Task DiscoListsTheAuthorizeNode()
    {
        var client = new AdHocCommandClient(_stream.ClientAt(Jid.Parse("alice@example.com/r")));

        var commands = await client.ListCommandsAsync(Jid.Parse(AuthJid), TestContext.Current.CancellationToken);
        var info = await _stream.RequestAsync($"""<iq type="get" to="{AuthJid}" id="i1"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>""", "alice@example.com/r");
        var nodeInfo = await _stream.RequestAsync($"""<iq type="get" to="{AuthJid}" id="i2"><query xmlns="http://jabber.org/protocol/disco#info" node="authorize-plain"/></iq>""", "alice@example.com/r");

        Assert.Equal([new CommandNode(Jid.Parse(AuthJid), "authorize-plain", "Authorize")], commands);
        Assert.Contains(info.Descendants(Ns.DiscoInfo + "feature"), f => (string?)f.Attribute("var") == Ns.Commands.NamespaceName);
        var identity = nodeInfo.Descendants(Ns.DiscoInfo + "identity").Single();
        Assert.Equal(("automation", "command-node"), ((string?)identity.Attribute("category"), (string?)identity.Attribute("type")));
    }

    [Fact]
    public async Task TheComponentTellsItsClockForInterpretingExpires()
    {
        var reply = await _stream.RequestAsync($"""<iq type="get" to="{AuthJid}" id="t1"><time xmlns="urn:xmpp:time"/></iq>""", "alice@example.com/r");

        Assert.Equal("2012-11-13T15:09:58Z", reply.Descendants(XName.Get("utc", "urn:xmpp:time")).Single().Value);
    }
}
