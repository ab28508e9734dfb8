using System.Xml.Linq;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>A <c>&lt;command node&gt;</c> carrying a submit form runs at once and answers status completed.</summary>
public class SingleStageCommandTests
{
    private readonly CommandTestHost _host = new();

    private static XElement CommandOf(XElement reply) => reply.Element(Ns.Commands + "command")!;

    [Fact]
    public async Task TheSeedsCreateRunsAndAnswersItsCallSetupId()
    {
        var reply = await _host.SendAsync(ActiveCallsSeed.CreateSingleStageRequest);

        SeedAssert.MatchesSeed(ActiveCallsSeed.CreateSuccessResponse, reply, callSetupId: "AbCd1234");
        Assert.Equal("create-1", (string?)reply.Attribute("id"));
        Assert.Equal(CommandTestHost.Alice, (string?)reply.Attribute("to"));
        var setup = Assert.IsType<CreateCall>(_host.Engine.SingleCall).Setup;
        Assert.Equal(new CallSetup("sip:foo@example.onsip.com", "sip:bar@example.onsip.com", "AbCd1234", CommandTestHost.Alice), setup);
    }

    [Fact]
    public async Task ACreateWithoutCallSetupIdGetsAGeneratedOne()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("create", form: Stanzas.Create()));

        var id = CommandOf(reply).Descendants(Ns.DataForms + "value").Single().Value;
        Assert.Matches("^[a-z0-9]{8}$", id);
        Assert.Equal(id, Assert.IsType<CreateCall>(_host.Engine.SingleCall).Setup.CallSetupId);
    }

    [Fact]
    public async Task GeneratedCallSetupIdsDiffer()
    {
        for (var i = 0; i < 20; i++) await _host.CommandAsync(Stanzas.Command("create", form: Stanzas.Create()));

        Assert.Equal(20, _host.Engine.Calls.Cast<CreateCall>().Select(c => c.Setup.CallSetupId).Distinct().Count());
    }

    [Fact]
    public async Task TheSeedsTerminateRunsAndAnswersCompletedWithoutAForm()
    {
        var reply = await _host.SendAsync(ActiveCallsSeed.TerminateSingleStageRequest);

        SeedAssert.MatchesSeed(ActiveCallsSeed.TerminateSuccessResponse, reply);
        Assert.Equal(new TerminateCall(new DialogId("a-valid-callid", "a-from-tag", "a-to-tag")), _host.Engine.SingleCall);
    }

    [Fact]
    public async Task TheSeedsTransferRunsAndAnswersCompletedWithoutAForm()
    {
        var reply = await _host.SendAsync(ActiveCallsSeed.TransferSingleStageRequest);

        SeedAssert.MatchesSeed(ActiveCallsSeed.TransferSuccessResponse, reply);
        Assert.Equal(new TransferCall(new DialogId("a-valid-call-id", "the-from-tag", "the-to-tag"), TransferEndpoint.Caller, "sip:bob@example.com"),
            _host.Engine.SingleCall);
    }

    [Fact]
    public async Task ATransferOfTheCalleeSaysSo()
    {
        await _host.CommandAsync(Stanzas.Command("transfer", form: Stanzas.Transfer(endpoint: "callee", targetUri: "sip:15555554567@example.onsip.com")));

        var transfer = Assert.IsType<TransferCall>(_host.Engine.SingleCall);
        Assert.Equal(TransferEndpoint.Callee, transfer.Endpoint);
        Assert.Equal("sip:15555554567@example.onsip.com", transfer.TargetUri);
    }

    [Fact]
    public async Task CancelTakesTheCallIdAndFromTag()
    {
        var reply = await _host.CommandAsync(Stanzas.Command("cancel", form: Stanzas.Cancel()));

        Assert.Equal("result", (string?)reply.Attribute("type"));
        var command = CommandOf(reply);
        Assert.Equal("completed", (string?)command.Attribute("status"));
        Assert.Equal("cancel", (string?)command.Attribute("node"));
        SeedAssert.IsSessionId((string?)command.Attribute("sessionid"));
        Assert.Empty(command.Elements());
        Assert.Equal(new CancelCall("a-ringing-callid", "a-from-tag"), _host.Engine.SingleCall);
    }

    [Theory]
    [InlineData("execute")]
    [InlineData("complete")]
    public async Task AnExecuteOrCompleteActionWithAFormRunsToo(string action)
    {
        var reply = await _host.CommandAsync(Stanzas.Command("terminate", action: action, form: Stanzas.Terminate()));

        Assert.Equal("completed", (string?)CommandOf(reply).Attribute("status"));
        Assert.IsType<TerminateCall>(_host.Engine.SingleCall);
    }

    [Fact]
    public async Task EachRunHasItsOwnSessionIdAndLeavesNoSessionOpen()
    {
        var first = await _host.SendAsync(ActiveCallsSeed.TerminateSingleStageRequest);
        var second = await _host.SendAsync(ActiveCallsSeed.TerminateSingleStageRequest);

        Assert.NotEqual((string?)CommandOf(first).Attribute("sessionid"), (string?)CommandOf(second).Attribute("sessionid"));
        Assert.Equal(0, _host.Component.Sessions.Count);
    }

    [Fact]
    public async Task FieldTypesDoNotMatter()
    {
        var form = Stanzas.Create(callSetupId: "AbCd1234");
        foreach (var field in form.Elements()) field.SetAttributeValue("type", "text-private");

        var reply = await _host.CommandAsync(Stanzas.Command("create", form: form));

        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.Equal("AbCd1234", Assert.IsType<CreateCall>(_host.Engine.SingleCall).Setup.CallSetupId);
    }
}
