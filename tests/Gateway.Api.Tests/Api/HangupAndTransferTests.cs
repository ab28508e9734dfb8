using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>DELETE chooses terminate or cancel from the registry's view of the call; transfer addresses the answered dialog.</summary>
public sealed class HangupAndTransferTests : IAsyncLifetime
{
    private const string Id = "ab12cd34";
    private readonly GatewayFactory _gateway = new();
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _client = _gateway.Client();
        var created = await _client.PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    private IReadOnlyList<SentIq> CommandsAfterCreate => [.. _gateway.Xmpp.Sent.ToArray()[1..]];

    private async Task ConnectAsync()
    {
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg(Id, "created"), "item-callee", Node, Ct);
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg(Id, "confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);
        await _gateway.Calls.ApplyRetractedAsync("item-setup", Ct);
    }

    [Fact]
    public async Task DeleteOnRingingCallSendsCancel()
    {
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);

        var response = await _client.DeleteAsync($"/calls/{Id}", Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        XmlEqual("""
            <iq type="set" to="commands.active-calls.activecalls.test">
              <command xmlns="http://jabber.org/protocol/commands" node="cancel">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="call-id"><value>setup-ab12cd34</value></field>
                  <field type="text-single" var="from-tag"><value>ft-setup</value></field>
                </x>
              </command>
            </iq>
            """, Assert.Single(CommandsAfterCreate).ToStanza());
    }

    [Fact]
    public async Task ManyHangupsAtOnceSendOneCancelPerCall()
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Http:Burst"] = "1000";
        gateway.Settings["Gateway:Http:RequestsPerSecond"] = "1000";
        gateway.Settings["Gateway:Http:ConcurrentRequestsPerKey"] = "1000";
        var client = gateway.Client();
        var ids = Enumerable.Range(0, 100).Select(i => $"cc{i:D6}").ToArray();
        foreach (var id in ids)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostJsonAsync("/calls", CreateBody(callSetupId: id))).StatusCode);
            await gateway.Calls.ApplyPublishedAsync(SetupLeg(id, "requested"), "item-" + id, Node, Ct);
        }

        // The runner's own scan of due intents races the requests' first attempts.
        var responses = await Task.WhenAll(ids.Select(id => client.DeleteAsync($"/calls/{id}", Ct)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var cancels = gateway.Xmpp.Sent.Where(iq => iq.Node == "cancel").Select(iq => iq.Field("call-id")).ToArray();
        Assert.Equal(ids.Select(id => "setup-" + id).Order(), cancels.Order());
    }

    [Fact]
    public async Task DeleteOnAnsweredCallSendsTerminate()
    {
        await ConnectAsync();

        var response = await _client.DeleteAsync($"/calls/{Id}", Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        XmlEqual("""
            <iq type="set" to="commands.active-calls.activecalls.test">
              <command xmlns="http://jabber.org/protocol/commands" node="terminate">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="call-id"><value>callee-ab12cd34</value></field>
                  <field type="text-single" var="from-tag"><value>ft-callee</value></field>
                  <field type="text-single" var="to-tag"><value>tt-callee</value></field>
                </x>
              </command>
            </iq>
            """, Assert.Single(CommandsAfterCreate).ToStanza());
        var events = await (await _client.GetAsync($"/calls/{Id}/events", Ct)).JsonAsync();
        Assert.Equal("call.hangup-requested", (string?)events["items"]!.AsArray()[^1]!["type"]);
    }

    [Fact]
    public async Task DeleteOnEndedCallAnswersItsFinalStateAndSendsNothing()
    {
        await ConnectAsync();
        await _gateway.Calls.ApplyRetractedAsync("item-callee", Ct);

        var first = await _client.DeleteAsync($"/calls/{Id}", Ct);
        var second = await _client.DeleteAsync($"/calls/{Id}", Ct);

        foreach (var response in new[] { first, second })
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var call = await response.JsonAsync();
            Assert.Equal("ended", (string?)call["state"]);
            Assert.Equal("completed", (string?)call["endReason"]);
        }
        Assert.Empty(CommandsAfterCreate);
    }

    [Fact]
    public async Task DeleteRacingTheEndOfTheCallAnswersItsFinalState()
    {
        await ConnectAsync();
        _gateway.Xmpp.Reply(iq =>
        {
            // The call ends while the terminate is in flight; the component no longer knows it.
            _gateway.Calls.ApplyRetractedAsync("item-callee", Ct).GetAwaiter().GetResult();
            return FakeXmppPool.ErrorReply(iq, "modify", "bad-request", "Execution Errors; terminate call failed",
                System.Xml.Linq.XName.Get("bad-payload", "http://jabber.org/protocol/commands"), 400);
        });

        var response = await _client.DeleteAsync($"/calls/{Id}", Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("ended", (string?)(await response.JsonAsync())["state"]);
    }

    [Fact]
    public async Task DeleteOfAnUnknownCallIs404()
    {
        await (await _client.DeleteAsync("/calls/zz99zz99", Ct)).AssertProblemAsync(404, "call-not-found");
    }

    [Fact]
    public async Task DeleteBeforeAnyLegIsSeenCancelsTheFirstLegAsSoonAsItAppears()
    {
        var response = await _client.DeleteAsync($"/calls/{Id}", Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(CommandsAfterCreate);
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);
        for (var i = 0; i < 200 && CommandsAfterCreate.Count == 0; i++) await Task.Delay(10, Ct);
        var cancel = Assert.Single(CommandsAfterCreate);
        Assert.Equal("cancel", cancel.Node);
        Assert.Equal("setup-ab12cd34", cancel.Field("call-id"));
        await _gateway.Calls.ApplyRetractedAsync("item-setup", Ct);
        var call = await (await _client.GetAsync($"/calls/{Id}", Ct)).JsonAsync();
        Assert.Equal("canceled", (string?)call["endReason"]);
    }

    [Fact]
    public async Task DeleteBySipCallIdWorks()
    {
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);

        Assert.Equal(HttpStatusCode.Accepted, (await _client.DeleteAsync($"/calls/setup-{Id}", Ct)).StatusCode);
        Assert.Equal("cancel", Assert.Single(CommandsAfterCreate).Node);
    }

    [Fact]
    public async Task TransferSendsTheAnsweredDialogTheEndpointAndTheTarget()
    {
        await ConnectAsync();

        var response = await _client.PostJsonAsync($"/calls/{Id}/transfer", """{"endpoint":"caller","target":"sip:carol@example.com"}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/calls/{Id}", response.Headers.Location?.OriginalString);
        XmlEqual("""
            <iq type="set" to="commands.active-calls.activecalls.test">
              <command xmlns="http://jabber.org/protocol/commands" node="transfer">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="call-id"><value>callee-ab12cd34</value></field>
                  <field type="text-single" var="from-tag"><value>ft-callee</value></field>
                  <field type="text-single" var="to-tag"><value>tt-callee</value></field>
                  <field type="list-single" var="endpoint"><value>caller</value></field>
                  <field type="text-single" var="target-uri"><value>sip:carol@example.com</value></field>
                </x>
              </command>
            </iq>
            """, Assert.Single(CommandsAfterCreate).ToStanza());
    }

    [Fact]
    public async Task TransferOfACallThatIsNotConnectedIs409()
    {
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);

        var response = await _client.PostJsonAsync($"/calls/{Id}/transfer", """{"endpoint":"callee","target":"sip:carol@example.com"}""");

        await response.AssertProblemAsync(409, "call-not-connected");
        Assert.Empty(CommandsAfterCreate);
    }
}
