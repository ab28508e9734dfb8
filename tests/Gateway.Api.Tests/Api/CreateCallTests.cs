using System.Net;
using Gateway.Api.Calls;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

public sealed class CreateCallTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task CreateSendsOneSingleStageCreateCommandAndAnswers202WithLocation()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("/calls/AbCd1234", response.Headers.Location?.OriginalString);
        var call = await response.JsonAsync();
        Assert.Equal("AbCd1234", (string?)call["id"]);
        Assert.Equal("requested", (string?)call["state"]);
        Assert.Equal("sip:alice@example.com", (string?)call["from"]);
        var iq = Assert.Single(_gateway.Xmpp.Sent);
        XmlEqual("""
            <iq type="set" to="commands.active-calls.activecalls.test">
              <command xmlns="http://jabber.org/protocol/commands" node="create">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="from"><value>sip:alice@example.com</value></field>
                  <field type="text-single" var="to"><value>sip:bob@example.com</value></field>
                  <field type="text-single" var="call-setup-id"><value>AbCd1234</value></field>
                </x>
              </command>
            </iq>
            """, iq.ToStanza());
        Assert.Equal(TimeSpan.FromSeconds(2), iq.Timeout);
    }

    [Fact]
    public async Task CreateWithoutCallSetupIdSendsOneTheGatewayMadeUp()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sent = Assert.Single(_gateway.Xmpp.Sent).Field("call-setup-id");
        Assert.Matches("^[a-z0-9]{8}$", sent);
        Assert.Equal(sent, (string?)(await response.JsonAsync())["id"]);
    }

    [Fact]
    public async Task TheCallsIdIsTheCallSetupIdOfTheResult()
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.DefaultReply(iq, callSetupId: "cqjOO99m"));

        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));

        Assert.Equal("/calls/cqjOO99m", response.Headers.Location?.OriginalString);
        Assert.NotNull(await _gateway.Calls.FindAsync("cqjOO99m", Ct));
    }

    [Fact]
    public async Task PstnShorthandIsAcceptedForToAndSentAsASipUri()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(to: "15555554567@example.com"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("sip:15555554567@example.com", Assert.Single(_gateway.Xmpp.Sent).Field("to"));
    }

    [Fact]
    public async Task ACallSetupIdInUseIs409WithoutACommand()
    {
        await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));

        var again = await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));

        await again.AssertProblemAsync(409, "call-setup-id-in-use");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task TheCreatedCallIsListedReadableAndHasItsEvents()
    {
        var client = _gateway.Client();
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg("AbCd1234", "requested"), "item-1", Node, Ct);

        var list = await (await client.GetAsync("/calls?address=alice@example.com", Ct)).JsonAsync();
        Assert.Equal("AbCd1234", (string?)list["items"]![0]!["id"]);
        var bySipCallId = await client.GetAsync("/calls/setup-AbCd1234", Ct);
        Assert.Equal("caller-ringing", (string?)(await bySipCallId.JsonAsync())["state"]);
        var events = await (await client.GetAsync("/calls/AbCd1234/events", Ct)).JsonAsync();
        Assert.Equal(["call.requested", "call.caller-ringing"], events["items"]!.AsArray().Select(e => (string?)e!["type"]));
        var later = await (await client.GetAsync("/calls/AbCd1234/events?after=1", Ct)).JsonAsync();
        Assert.Single(later["items"]!.AsArray());
    }

    [Fact]
    public async Task ListPagesWithACursor()
    {
        var client = _gateway.Client();
        foreach (var id in new[] { "call0001", "call0002", "call0003" })
            await client.PostJsonAsync("/calls", CreateBody(callSetupId: id));

        var first = await (await client.GetAsync("/calls?limit=2", Ct)).JsonAsync();
        Assert.Equal(["call0001", "call0002"], first["items"]!.AsArray().Select(c => (string?)c!["id"]));
        var second = await (await client.GetAsync($"/calls?limit=2&cursor={first["nextCursor"]}", Ct)).JsonAsync();
        Assert.Equal(["call0003"], second["items"]!.AsArray().Select(c => (string?)c!["id"]));
        Assert.Null(second["nextCursor"]);
    }

    [Fact]
    public async Task AnUnknownCallIs404()
    {
        var response = await _gateway.Client().GetAsync("/calls/zz99zz99", Ct);

        await response.AssertProblemAsync(404, "call-not-found");
    }

    [Fact]
    public async Task AnUnknownRouteIsAProblemToo()
    {
        var response = await _gateway.Client().GetAsync("/nothing-here", Ct);

        await response.AssertProblemAsync(404, "not-found");
    }

    [Fact]
    public async Task HealthLiveAndReadyReflectThePool()
    {
        var client = _gateway.Client(key: null);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live", Ct)).StatusCode);
        var ready0 = await client.GetAsync("/health/ready", Ct);
        Assert.True(ready0.StatusCode == HttpStatusCode.OK, await ready0.Content.ReadAsStringAsync(Ct));

        _gateway.Xmpp.Health = Gateway.Xmpp.Pool.PoolHealth.Unhealthy;

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready", Ct)).StatusCode);
    }
}
