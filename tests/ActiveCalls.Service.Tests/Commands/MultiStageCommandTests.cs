using System.Xml.Linq;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>An empty <c>&lt;command node/&gt;</c> opens a session and answers the node's form; the submission with the
/// session id runs it; <c>cancel</c> ends it; sessions are the requester's own and expire.</summary>
public class MultiStageCommandTests
{
    private const string BadSessionId = """
        <error type="modify" code="400">
          <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
          <bad-sessionid xmlns="http://jabber.org/protocol/commands"/>
        </error>
        """;

    private readonly CommandTestHost _host = new();

    private static XElement CommandOf(XElement reply) => reply.Element(Ns.Commands + "command")!;

    private static void AssertBadSessionId(XElement reply)
    {
        Assert.Equal("error", (string?)reply.Attribute("type"));
        XmlAssert.Equivalent(BadSessionId, Assert.Single(reply.Elements()));
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.CreateMultiStageStartRequest), nameof(ActiveCallsSeed.CreateMultiStageFormResponse))]
    [InlineData(nameof(ActiveCallsSeed.TerminateMultiStageStartRequest), nameof(ActiveCallsSeed.TerminateMultiStageFormResponse))]
    [InlineData(nameof(ActiveCallsSeed.TransferMultiStageStartRequest), nameof(ActiveCallsSeed.TransferMultiStageFormResponse))]
    public async Task AnEmptyCommandAnswersTheSeedsFormVerbatim(string request, string response)
    {
        var reply = await _host.SendAsync(Seed(request));

        SeedAssert.MatchesSeed(Seed(response), reply);
        Assert.Equal(1, _host.Component.Sessions.CountFor(CommandTestHost.Alice));
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task CancelsFormAsksForTheCallIdAndFromTag()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("cancel"));

        var sessionId = (string)CommandOf(reply).Attribute("sessionid")!;
        SeedAssert.IsSessionId(sessionId);
        XmlAssert.Equivalent($"""
            <iq>
              <command xmlns="http://jabber.org/protocol/commands" status="executing" node="cancel" sessionid="{sessionId}">
                <actions execute="execute"><cancel/><execute/></actions>
                <x xmlns="jabber:x:data" type="form">
                  <title>Cancel a Call</title>
                  <instructions>Fill out this form to cancel a call that has not been answered.</instructions>
                  <field type="text-single" label="Call-ID" var="call-id"><required/></field>
                  <field type="text-single" label="From Tag" var="from-tag"><required/></field>
                </x>
              </command>
            </iq>
            """, new XElement("iq", reply.Elements()));
    }

    [Fact]
    public async Task AnExecuteActionWithoutAFormOpensASessionToo()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("terminate", action: "execute"));

        Assert.Equal("executing", (string?)CommandOf(reply).Attribute("status"));
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.CreateMultiStageSubmission), nameof(ActiveCallsSeed.CreateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TerminateMultiStageSubmission), nameof(ActiveCallsSeed.TerminateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TransferMultiStageSubmission), nameof(ActiveCallsSeed.TransferSuccessResponse))]
    public async Task TheSeedsSubmissionRunsTheSessionAndClosesIt(string submission, string response)
    {
        var node = (string)Stanzas.SeedCommand(Seed(submission)).Attribute("node")!;
        var sessionId = await _host.StartAsync(node);

        var reply = await _host.CommandAsync(Stanzas.SeedCommand(Seed(submission), sessionId));

        SeedAssert.MatchesSeed(Seed(response), reply, sessionId, callSetupId: node == "create" ? "aBcD4321" : null);
        Assert.Single(_host.Engine.Calls);
        Assert.Equal(0, _host.Component.Sessions.Count);
        AssertBadSessionId(await _host.CommandAsync(Stanzas.SeedCommand(Seed(submission), sessionId)));
        Assert.Single(_host.Engine.Calls);
    }

    [Fact]
    public async Task TheSubmittedValuesReachTheEngine()
    {
        var create = await _host.StartAsync("create");
        await _host.CommandAsync(Stanzas.SeedCommand(ActiveCallsSeed.CreateMultiStageSubmission, create));
        var transfer = await _host.StartAsync("transfer");
        await _host.CommandAsync(Stanzas.SeedCommand(ActiveCallsSeed.TransferMultiStageSubmission, transfer));

        Assert.Equal(
        [
            new CreateCall(new CallSetup("sip:foo@example.onsip.com", "sip:bar@example.onsip.com", "aBcD4321", CommandTestHost.Alice)),
            new TransferCall(new DialogId("a-valid-call-id", "the-from-tag", "the-to-tag"), TransferEndpoint.Caller, "sip:bob@example.com"),
        ], _host.Engine.Calls);
    }

    [Theory]
    [InlineData("execute")]
    [InlineData("complete")]
    public async Task ExecuteAndCompleteRunTheSession(string action)
    {
        var sessionId = await _host.StartAsync("cancel");

        var reply = await _host.CommandAsync(Stanzas.Command("cancel", sessionId, action, Stanzas.Cancel()));

        Assert.Equal("completed", (string?)CommandOf(reply).Attribute("status"));
        Assert.Equal(sessionId, (string?)CommandOf(reply).Attribute("sessionid"));
        Assert.IsType<CancelCall>(_host.Engine.SingleCall);
    }

    [Fact]
    public async Task TheCancelActionEndsTheSession()
    {
        var sessionId = await _host.StartAsync("create");

        var reply = await _host.CommandAsync(Stanzas.Command("create", sessionId, "cancel"));

        Assert.Equal("result", (string?)reply.Attribute("type"));
        XmlAssert.Equivalent($"""<command xmlns="http://jabber.org/protocol/commands" status="canceled" node="create" sessionid="{sessionId}"/>""",
            Assert.Single(reply.Elements()));
        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("create", sessionId, form: Stanzas.Create())));
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task TheCancelActionIgnoresAnyForm()
    {
        var sessionId = await _host.StartAsync("create");

        var reply = await _host.CommandAsync(Stanzas.Command("create", sessionId, "cancel", Stanzas.Create()));

        Assert.Equal("canceled", (string?)CommandOf(reply).Attribute("status"));
        Assert.Empty(_host.Engine.Calls);
    }

    [Theory]
    [InlineData("next")]
    [InlineData("prev")]
    public async Task NextAndPrevAreBadActionsAndTheSessionLivesOn(string action)
    {
        var sessionId = await _host.StartAsync("terminate");

        var reply = await _host.CommandAsync(Stanzas.Command("terminate", sessionId, action, Stanzas.Terminate()));

        Assert.Equal("error", (string?)reply.Attribute("type"));
        XmlAssert.Equivalent($"""
            <error type="modify" code="400">
              <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
              <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Action '{action}' is not offered by this command.</text>
              <bad-action xmlns="http://jabber.org/protocol/commands"/>
            </error>
            """, Assert.Single(reply.Elements()));
        Assert.Empty(_host.Engine.Calls);
        Assert.Equal("completed", (string?)CommandOf(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate()))).Attribute("status"));
    }

    [Theory]
    [InlineData("alice@example.com/other")]
    [InlineData("alice@example.com")]
    [InlineData("mallory@example.com/psi")]
    public async Task AnotherJidCannotUseTheSession(string intruder)
    {
        var sessionId = await _host.StartAsync("terminate");

        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate()), intruder));
        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, "cancel"), intruder));

        Assert.Empty(_host.Engine.Calls);
        Assert.Equal("completed", (string?)CommandOf(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate()))).Attribute("status"));
    }

    [Fact]
    public async Task ASessionIsBoundToItsNode()
    {
        var sessionId = await _host.StartAsync("cancel");

        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate())));
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task ASessionExpiresAfterTheConfiguredLifetime()
    {
        var sessionId = await _host.StartAsync("create");
        _host.Time.Advance(CommandTestHost.SessionLifetime);

        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("create", sessionId, form: Stanzas.Create())));
        Assert.Empty(_host.Engine.Calls);
        Assert.Equal(0, _host.Component.Sessions.Count);
    }

    [Fact]
    public async Task ASessionSubmittedJustBeforeItExpiresRuns()
    {
        var sessionId = await _host.StartAsync("create");
        _host.Time.Advance(CommandTestHost.SessionLifetime - TimeSpan.FromSeconds(1));

        Assert.Equal("result", (string?)(await _host.CommandAsync(Stanzas.Command("create", sessionId, form: Stanzas.Create()))).Attribute("type"));
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef", null)]
    [InlineData("not-a-session", null)]
    [InlineData("0123456789abcdef0123456789abcdef", "cancel")]
    [InlineData("0123456789abcdef0123456789abcdef", "next")]
    public async Task AnUnknownSessionIsABadSessionId(string sessionId, string? action)
    {
        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("create", sessionId, action, Stanzas.Create())));
        Assert.Empty(_host.Engine.Calls);
    }

    [Fact]
    public async Task ACancelWithoutASessionIsABadSessionId()
    {
        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("create", action: "cancel")));
    }

    [Fact]
    public async Task ARejectedFormKeepsTheSessionForACorrectedOne()
    {
        var sessionId = await _host.StartAsync("create");

        var rejected = await _host.CommandAsync(Stanzas.Command("create", sessionId, form: Stanzas.Create(from: "foo")));
        var accepted = await _host.CommandAsync(Stanzas.Command("create", sessionId, form: Stanzas.Create()));

        Assert.Equal("error", (string?)rejected.Attribute("type"));
        Assert.Equal("result", (string?)accepted.Attribute("type"));
        Assert.Equal(sessionId, (string?)CommandOf(accepted).Attribute("sessionid"));
        Assert.Single(_host.Engine.Calls);
    }

    [Fact]
    public async Task AFailedRunClosesTheSession()
    {
        var sessionId = await _host.StartAsync("terminate");
        _host.Engine.FailNext("no such call");

        Assert.Equal("error", (string?)(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate()))).Attribute("type"));

        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("terminate", sessionId, form: Stanzas.Terminate())));
    }

    [Fact]
    public async Task OneRequesterHoldsAtMostFiftySessions()
    {
        var first = await _host.StartAsync("create");
        for (var i = 0; i < 50; i++) await _host.StartAsync("create");
        var other = await _host.StartAsync("create", "bob@example.com/psi");

        Assert.Equal(50, _host.Component.Sessions.CountFor(CommandTestHost.Alice));
        AssertBadSessionId(await _host.CommandAsync(Stanzas.Command("create", first, form: Stanzas.Create())));
        Assert.Equal("result", (string?)(await _host.CommandAsync(Stanzas.Command("create", other, form: Stanzas.Create()), "bob@example.com/psi")).Attribute("type"));
    }

    [Fact]
    public async Task TwoSessionsOfOneRequesterAreIndependent()
    {
        var one = await _host.StartAsync("create");
        var two = await _host.StartAsync("create");

        await _host.CommandAsync(Stanzas.Command("create", two, form: Stanzas.Create(callSetupId: "22222222")));
        await _host.CommandAsync(Stanzas.Command("create", one, form: Stanzas.Create(callSetupId: "11111111")));

        Assert.Equal(["22222222", "11111111"], _host.Engine.Calls.Cast<CreateCall>().Select(c => c.Setup.CallSetupId));
    }

    private static string Seed(string name) => (string)typeof(ActiveCallsSeed).GetField(name)!.GetValue(null)!;
}
