using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Tests.Fakes;

namespace Gateway.Xmpp.Tests.AdHoc;

public class MultiStageSessionTests
{
    private static readonly Jid Component = Jid.Parse(ActiveCallsSeed.ComponentJid);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static XElement SeedCommand(string stanza) => XElement.Parse(stanza).Element(Ns.Commands + "command")!;

    private static string Seed(string name) => (string)typeof(ActiveCallsSeed).GetField(name)!.GetValue(null)!;

    private static string Reply(string node, string sessionId, string status, string body = "") =>
        $"""<iq type="result" from="{ActiveCallsSeed.ComponentJid}" id="r"><command xmlns="http://jabber.org/protocol/commands" node="{node}" sessionid="{sessionId}" status="{status}">{body}</command></iq>""";

    private static string ErrorReply(string condition) =>
        $"""<iq type="error" id="r"><error type="modify" code="400"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><{condition} xmlns="http://jabber.org/protocol/commands"/></error></iq>""";

    private static async Task<(ScriptedIqSender Sender, CommandSession Session)> StartCreateAsync()
    {
        var sender = new ScriptedIqSender().Reply(ActiveCallsSeed.CreateMultiStageFormResponse);
        var session = await new AdHocCommandClient(sender).StartAsync(Component, "create", TimeSpan.FromSeconds(9), Ct);
        return (sender, session);
    }

    [Theory]
    [InlineData("create", nameof(ActiveCallsSeed.CreateMultiStageStartRequest))]
    [InlineData("terminate", nameof(ActiveCallsSeed.TerminateMultiStageStartRequest))]
    [InlineData("transfer", nameof(ActiveCallsSeed.TransferMultiStageStartRequest))]
    public async Task StartSendsTheSeedsBareCommand(string node, string seedName)
    {
        var sender = new ScriptedIqSender().Reply(Reply(node, "s", "executing"));

        await new AdHocCommandClient(sender).StartAsync(Component, node, ct: Ct);

        XmlAssert.Equivalent(SeedCommand(Seed(seedName)), sender.LastSent.Payload);
        Assert.Equal(Component, sender.LastSent.To);
    }

    [Theory]
    [InlineData("create", nameof(ActiveCallsSeed.CreateMultiStageFormResponse), "9d17366d64a57a82614e7083fe00398a", "Create Call",
        "Enter the SIP addresses of the caller and callee", "from|to|call-setup-id", "From|To|Call Setup ID", "from|to")]
    [InlineData("terminate", nameof(ActiveCallsSeed.TerminateMultiStageFormResponse), "c24df0dfb26a6d2ab037eed3c7a77c0d", "Terminating a Call",
        "Fill out this from to terminate a call.", "call-id|from-tag|to-tag", "Call-ID|From Tag|To Tag", "call-id|from-tag|to-tag")]
    [InlineData("transfer", nameof(ActiveCallsSeed.TransferMultiStageFormResponse), "6bcc4d9767bfe46783eace22837c2e8b", "Transfer a Call",
        "Fill out this from to transfer a live call.", "call-id|from-tag|to-tag|endpoint|target-uri",
        "Call-ID|From Tag|To Tag|Endpoint|Target SIP URI", "call-id|from-tag|to-tag|endpoint|target-uri")]
    public async Task TheSeedsFormResponsesAreParsedExactly(
        string node, string seedName, string sessionId, string title, string instructions, string vars, string labels, string required)
    {
        var sender = new ScriptedIqSender().Reply(Seed(seedName)).Reply(Reply(node, sessionId, "canceled"));
        await using var session = await new AdHocCommandClient(sender).StartAsync(Component, node, ct: Ct);

        Assert.Equal(node, session.Node);
        Assert.Equal(sessionId, session.SessionId);
        Assert.Equal(CommandStatus.Executing, session.Status);
        Assert.False(session.IsEnded);
        Assert.Equal(new CommandActions([CommandAction.Cancel, CommandAction.Execute], CommandAction.Execute), session.LastResult.Actions);
        Assert.Equal(CommandAction.Execute, session.DefaultAction);
        Assert.Equal([CommandAction.Execute, CommandAction.Cancel], session.AllowedActions);
        Assert.Empty(session.Notes);

        var form = session.Form!;
        Assert.Equal(DataFormType.Form, form.Type);
        Assert.Equal(title, form.Title);
        Assert.Equal([instructions], form.Instructions);
        Assert.Equal(vars.Split('|'), form.Fields.Select(f => f.Var));
        Assert.Equal(labels.Split('|'), form.Fields.Select(f => f.Label));
        Assert.Equal(required.Split('|'), form.Fields.Where(f => f.Required).Select(f => f.Var));
        Assert.All(form.Fields, f => Assert.Empty(f.Values));
        if (node == "transfer")
        {
            var endpoint = form.GetField("endpoint")!;
            Assert.Equal(FormFieldType.ListSingle, endpoint.Type);
            Assert.Equal([new FormOption("callee", "Callee"), new FormOption("caller", "Caller")], endpoint.Options);
        }
        else
        {
            Assert.All(form.Fields, f => Assert.Equal(FormFieldType.TextSingle, f.Type));
        }
    }

    [Fact]
    public async Task SubmittingTheFilledFormSendsSessionIdAndActionAndCompletes()
    {
        var (sender, session) = await StartCreateAsync();
        var fillable = session.Form!.ToFillable();
        fillable.SetAnswer("from", "sip:foo@example.onsip.com");
        fillable.SetAnswer("to", "sip:bar@example.onsip.com");
        fillable.SetAnswer("call-setup-id", "aBcD4321");
        sender.Reply(ActiveCallsSeed.CreateSuccessResponse);

        var result = await session.ProceedAsync(CommandAction.Execute, fillable.ToSubmitForm(), Ct);

        // The wiki's stage-2 submission plus the explicit action XEP-0050 lets us state (absent means execute).
        var expected = SeedCommand(ActiveCallsSeed.CreateMultiStageSubmission);
        expected.SetAttributeValue("action", "execute");
        XmlAssert.Equivalent(expected, sender.LastSent.Payload);
        Assert.Equal(TimeSpan.FromSeconds(9), sender.LastSent.Timeout);

        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal("cqjOO99m", result.Form!["call-setup-id"]);
        Assert.Equal(CommandStatus.Completed, session.Status);
        Assert.True(session.IsEnded);
        Assert.Empty(session.AllowedActions);
        // OnSIP's sample answers with a different session id than the one submitted; the session follows the reply.
        Assert.Equal("b7720992672820eeec1b898c5f54057d", session.SessionId);
        Assert.Same(result, session.LastResult);

        await Assert.ThrowsAsync<InvalidOperationException>(() => session.ProceedAsync(CommandAction.Execute, null, Ct));
        await session.CancelAsync(Ct);
        await session.DisposeAsync();
        Assert.Equal(2, sender.Sent.Count);
    }

    [Theory]
    [InlineData("terminate", nameof(ActiveCallsSeed.TerminateMultiStageFormResponse), nameof(ActiveCallsSeed.TerminateMultiStageSubmission), nameof(ActiveCallsSeed.TerminateSuccessResponse))]
    [InlineData("transfer", nameof(ActiveCallsSeed.TransferMultiStageFormResponse), nameof(ActiveCallsSeed.TransferMultiStageSubmission), nameof(ActiveCallsSeed.TransferSuccessResponse))]
    public async Task TerminateAndTransferRoundTripThroughTheSeedsStages(string node, string formSeed, string submissionSeed, string successSeed)
    {
        var sender = new ScriptedIqSender().Reply(Seed(formSeed)).Reply(Seed(successSeed));
        await using var session = await new AdHocCommandClient(sender).StartAsync(Component, node, ct: Ct);
        var submission = SeedCommand(Seed(submissionSeed));
        var fillable = session.Form!.ToFillable();
        foreach (var field in DataForm.FromParent(submission)!.Fields)
            fillable.SetAnswer(field.Var!, field.Value!);

        var result = await session.ExecuteAsync(fillable.ToSubmitForm(), Ct);

        submission.SetAttributeValue("action", "execute");
        XmlAssert.Equivalent(submission, sender.LastSent.Payload);
        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Null(result.Form);
    }

    [Fact]
    public async Task CancelSendsActionCancelAndEndsTheSession()
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(Reply("create", "9d17366d64a57a82614e7083fe00398a", "canceled"));

        await session.CancelAsync(Ct);

        XmlAssert.Equivalent(
            """<command xmlns="http://jabber.org/protocol/commands" node="create" sessionid="9d17366d64a57a82614e7083fe00398a" action="cancel"/>""",
            sender.LastSent.Payload);
        Assert.Equal(CommandStatus.Canceled, session.Status);
        Assert.True(session.IsEnded);
        Assert.Empty(session.AllowedActions);

        await session.CancelAsync(Ct); // already over: nothing sent
        await session.DisposeAsync();
        Assert.Equal(2, sender.Sent.Count);
    }

    [Fact]
    public async Task CancelViaProceedDropsAnySubmittedForm()
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(Reply("create", "9d17366d64a57a82614e7083fe00398a", "canceled"));

        var result = await session.ProceedAsync(CommandAction.Cancel, DataForm.Submit().Add("from", "x").Build(), Ct);

        Assert.Equal(CommandStatus.Canceled, result.Status);
        Assert.Empty(sender.LastSent.Payload.Elements());
    }

    [Fact]
    public async Task ACancelAnsweredWithExecutingStillEndsTheSession()
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(Reply("create", "9d17366d64a57a82614e7083fe00398a", "executing"));

        await session.CancelAsync(Ct);

        Assert.Equal(CommandStatus.Canceled, session.Status);
    }

    [Theory]
    [InlineData(CommandAction.Next)]
    [InlineData(CommandAction.Prev)]
    [InlineData(CommandAction.Complete)]
    public async Task ADisallowedActionThrowsBeforeSendingAnything(CommandAction action)
    {
        var (sender, session) = await StartCreateAsync();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => session.ProceedAsync(action, null, Ct));

        Assert.Contains("execute, cancel", ex.Message, StringComparison.Ordinal);
        Assert.Single(sender.Sent);
        Assert.Equal(CommandStatus.Executing, session.Status);
    }

    [Theory]
    [InlineData("bad-sessionid", CommandErrorCondition.BadSessionId)]
    [InlineData("session-expired", CommandErrorCondition.SessionExpired)]
    public async Task AGoneSessionIsReportedAsExpiredAndNotCanceledOnDispose(string condition, CommandErrorCondition expected)
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(ErrorReply(condition));

        var ex = await Assert.ThrowsAsync<CommandSessionExpiredException>(
            () => session.ExecuteAsync(DataForm.Submit().Add("from", "sip:a@example.com").Build(), Ct));

        Assert.Equal(expected, ex.Condition);
        Assert.Equal("bad-request", ex.Error.Condition);
        Assert.Equal(Ns.Commands + condition, ex.Error.ApplicationCondition);
        Assert.Equal("9d17366d64a57a82614e7083fe00398a", ex.SessionId);
        Assert.Equal("create", ex.Node);
        Assert.Equal("error", (string?)ex.Stanza.Attribute("type"));
        Assert.IsType<XmppStanzaErrorException>(ex.InnerException);
        Assert.IsAssignableFrom<XmppException>(ex);
        Assert.True(session.IsEnded);
        Assert.Empty(session.AllowedActions);

        await Assert.ThrowsAsync<InvalidOperationException>(() => session.ProceedAsync(CommandAction.Execute, null, Ct));
        await session.DisposeAsync();
        Assert.Equal(2, sender.Sent.Count);
    }

    [Fact]
    public async Task OtherErrorsLeaveTheSessionExecutingForARetry()
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(ActiveCallsSeed.CreateErrorResponse).Reply(ActiveCallsSeed.CreateSuccessResponse);
        var form = DataForm.Submit().Add("from", "sip:foo@example.onsip.com").Add("to", "sip:bar@example.onsip.com").Build();

        var ex = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => session.ExecuteAsync(form, Ct));
        Assert.Equal(CommandErrorCondition.BadPayload, CommandError.GetCondition(ex.Error));
        Assert.Equal(CommandStatus.Executing, session.Status);
        Assert.Equal("9d17366d64a57a82614e7083fe00398a", session.SessionId);

        var result = await session.ExecuteAsync(form, Ct);
        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal("9d17366d64a57a82614e7083fe00398a", sender.LastSent.Payload.Attribute("sessionid")!.Value);
    }

    [Fact]
    public async Task DisposingAnExecutingSessionSendsCancel()
    {
        var (sender, session) = await StartCreateAsync();
        sender.Reply(Reply("create", "9d17366d64a57a82614e7083fe00398a", "canceled"));

        await session.DisposeAsync();

        Assert.Equal(2, sender.Sent.Count);
        Assert.Equal("cancel", (string?)sender.LastSent.Payload.Attribute("action"));
        Assert.Equal("9d17366d64a57a82614e7083fe00398a", (string?)sender.LastSent.Payload.Attribute("sessionid"));
        await session.DisposeAsync(); // idempotent
        Assert.Equal(2, sender.Sent.Count);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => session.ProceedAsync(CommandAction.Execute, null, Ct));
    }

    [Fact]
    public async Task DisposeSwallowsStanzaErrorsAndTimeoutsFromTheCourtesyCancel()
    {
        var (sender1, session1) = await StartCreateAsync();
        sender1.Reply(ErrorReply("bad-action"));
        await session1.DisposeAsync();
        Assert.Equal("cancel", (string?)sender1.LastSent.Payload.Attribute("action"));

        var (sender2, session2) = await StartCreateAsync();
        sender2.Throw(new XmppIqTimeoutException("iq-2", TimeSpan.FromSeconds(9)));
        await session2.DisposeAsync();
        Assert.Equal(2, sender2.Sent.Count);
    }

    [Fact]
    public async Task AwaitUsingCancelsAnAbandonedSession()
    {
        var sender = new ScriptedIqSender()
            .Reply(ActiveCallsSeed.TransferMultiStageFormResponse)
            .Reply(Reply("transfer", "6bcc4d9767bfe46783eace22837c2e8b", "canceled"));

        await using (var session = await new AdHocCommandClient(sender).StartAsync(Component, "transfer", ct: Ct))
            Assert.Equal(CommandStatus.Executing, session.Status);

        Assert.Equal("cancel", (string?)sender.LastSent.Payload.Attribute("action"));
        Assert.Equal(0, sender.PendingReplies);
    }

    [Fact]
    public async Task Xep0050WizardActionsAreHonoured()
    {
        const string stage2 = """
            <actions execute="complete"><prev/><complete/></actions>
            <x xmlns="jabber:x:data" type="form"><field var="state" type="list-single"><option><value>on</value></option><option><value>off</value></option></field></x>
            """;
        var sender = new ScriptedIqSender()
            .Reply(Reply("config", "config:1", "executing", """<actions execute="next"><next/></actions><x xmlns="jabber:x:data" type="form"/>"""))
            .Reply(Reply("config", "config:1", "executing", stage2))
            .Reply(Reply("config", "config:1", "completed", """<note type="info">Service 'httpd' has been configured.</note>"""));
        await using var session = await new AdHocCommandClient(sender).StartAsync(Component, "config", ct: Ct);

        Assert.Equal([CommandAction.Execute, CommandAction.Cancel, CommandAction.Next], session.AllowedActions);
        Assert.Equal(CommandAction.Next, session.DefaultAction);
        await Assert.ThrowsAsync<InvalidOperationException>(() => session.ProceedAsync(CommandAction.Prev, null, Ct));

        await session.ProceedAsync(CommandAction.Next, DataForm.Submit().Build(), Ct);
        Assert.Equal("next", (string?)sender.LastSent.Payload.Attribute("action"));
        Assert.Equal([CommandAction.Execute, CommandAction.Cancel, CommandAction.Prev, CommandAction.Complete], session.AllowedActions);
        Assert.Equal(CommandAction.Complete, session.DefaultAction);
        Assert.False(session.IsAllowed(CommandAction.Next));

        var fillable = session.Form!.ToFillable();
        fillable.SetAnswer("state", "on");
        var done = await session.ProceedAsync(CommandAction.Complete, fillable.ToSubmitForm(), Ct);

        Assert.Equal("complete", (string?)sender.LastSent.Payload.Attribute("action"));
        Assert.Equal([new CommandNote(CommandNoteType.Info, "Service 'httpd' has been configured.")], done.Notes);
        Assert.Equal(3, sender.Sent.Count);
    }

    [Fact]
    public async Task WithoutActionsOnlyExecuteAndCancelAreAllowed()
    {
        var sender = new ScriptedIqSender().Reply(Reply("create", "s1", "executing", """<x xmlns="jabber:x:data" type="form"/>"""));
        await using var session = await new AdHocCommandClient(sender).StartAsync(Component, "create", ct: Ct);

        Assert.Null(session.LastResult.Actions);
        Assert.Null(session.DefaultAction);
        Assert.Equal([CommandAction.Execute, CommandAction.Cancel], session.AllowedActions);
        sender.Reply(Reply("create", "s1", "canceled"));
    }

    [Fact]
    public async Task ACommandThatCompletesAtOnceGivesAnEndedSession()
    {
        var sender = new ScriptedIqSender().Reply(ActiveCallsSeed.TerminateSuccessResponse);
        var session = await new AdHocCommandClient(sender).StartAsync(Component, "terminate", ct: Ct);

        Assert.True(session.IsEnded);
        Assert.Empty(session.AllowedActions);
        await session.DisposeAsync();
        Assert.Single(sender.Sent);
    }

    [Fact]
    public async Task AnExecutingResponseWithoutSessionIdIsAProtocolError()
    {
        var sender = new ScriptedIqSender().Reply(
            """<iq type="result" id="r"><command xmlns="http://jabber.org/protocol/commands" node="create" status="executing"/></iq>""");
        await Assert.ThrowsAsync<XmppProtocolException>(() => new AdHocCommandClient(sender).StartAsync(Component, "create", ct: Ct));
    }

    [Fact]
    public async Task AResultFormCannotBeSubmitted()
    {
        var (sender, session) = await StartCreateAsync();
        await Assert.ThrowsAsync<ArgumentException>(
            () => session.ProceedAsync(CommandAction.Execute, new DataForm(DataFormType.Result), Ct));
        Assert.Single(sender.Sent);
        sender.Reply(Reply("create", "9d17366d64a57a82614e7083fe00398a", "canceled"));
        await session.DisposeAsync();
    }
}
