using System.Net;
using System.Xml.Linq;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>One test per row of the XMPP → HTTP mapping (architecture §4, <c>ProblemTypes</c>).</summary>
public sealed class ErrorMappingTests : IAsyncLifetime
{
    private static readonly XNamespace Commands = "http://jabber.org/protocol/commands";
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    private Task<HttpResponseMessage> CreateAsync() => _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "AbCd1234"));

    [Fact]
    public async Task ComponentValidationErrorIs422CommandRejectedWithTheXmppDetails()
    {
        const string text = "Validation Errors; Field 'from' is in an invalid format with value: foo";
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "modify", "bad-request", text, Commands + "bad-payload", 400));

        var problem = await (await CreateAsync()).AssertProblemAsync(422, "command-rejected");

        Assert.Equal(text, (string?)problem["detail"]);
        Assert.Equal("bad-request", (string?)problem["xmppCondition"]);
        Assert.Equal("modify", (string?)problem["xmppErrorType"]);
        Assert.Equal("bad-payload", (string?)problem["xmppApplicationCondition"]);
        Assert.Equal(text, (string?)problem["xmppText"]);
        Assert.Equal("create", (string?)problem["command"]);
        Assert.Equal(FakeXmppPool.Component, (string?)problem["component"]);
    }

    [Fact]
    public async Task ExecutionErrorIs422CommandFailedWithTheComponentsText()
    {
        // The seed's own example: an execution error reported with bad-payload.
        const string text = "Execution Errors; Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response";
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "modify", "bad-request", text, Commands + "bad-payload", 400));

        var problem = await (await CreateAsync()).AssertProblemAsync(422, "command-failed");

        Assert.Equal(text, (string?)problem["detail"]);
        Assert.Null(await _gateway.Calls.FindAsync("AbCd1234", Ct));
    }

    [Fact]
    public async Task BadActionIs422CommandFailed()
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "modify", "bad-request", "could not place the call", Commands + "bad-action"));

        await (await CreateAsync()).AssertProblemAsync(422, "command-failed");
    }

    [Fact]
    public async Task ItemNotFoundIs404()
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "cancel", "item-not-found"));

        var problem = await (await CreateAsync()).AssertProblemAsync(404, "call-not-found");

        Assert.Equal("item-not-found", (string?)problem["xmppCondition"]);
    }

    [Theory]
    [InlineData("auth", "forbidden")]
    [InlineData("auth", "not-authorized")]
    public async Task ForbiddenAndNotAuthorizedAre403(string type, string condition)
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, type, condition));

        var problem = await (await CreateAsync()).AssertProblemAsync(403, "component-forbidden");

        Assert.Equal(condition, (string?)problem["xmppCondition"]);
    }

    [Fact]
    public async Task IqTimeoutIs504AndSaysWhereToLookForTheCall()
    {
        _gateway.Xmpp.Throw(new XmppIqTimeoutException("iq-1", TimeSpan.FromSeconds(2)));

        var problem = await (await CreateAsync()).AssertProblemAsync(504, "component-timeout");

        Assert.Equal("AbCd1234", (string?)problem["callSetupId"]);
        Assert.Contains("GET /calls/AbCd1234", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Single(_gateway.Xmpp.Sent); // a create that may have been sent is never retried
    }

    [Fact]
    public async Task ComponentNotConnectedIs503WithRetryAfterNotATimeout()
    {
        // What Prosody answers for an external component that is configured but not connected.
        _gateway.Xmpp.Reply("""
            <iq type="error" from="commands.active-calls.activecalls.test">
              <error type="wait">
                <remote-server-timeout xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Component unavailable</text>
                <not-connected xmlns="xmpp:prosody.im/protocol/component"/>
              </error>
            </iq>
            """);

        var response = await CreateAsync();

        var problem = await response.AssertProblemAsync(503, "component-unavailable");
        Assert.Equal("not-connected", (string?)problem["xmppApplicationCondition"]);
        Assert.Equal("Component unavailable", (string?)problem["detail"]);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task EjabberdsRefusalToRouteToAComponentThatIsNotConnectedIs503WithRetryAfter()
    {
        // What ejabberd answers for an address under its domain with no component connected (docs/xmpp-library.md, "ejabberd").
        _gateway.Xmpp.Reply("""
            <iq type="error" from="commands.active-calls.activecalls.test">
              <error type="auth">
                <forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">Access denied by service policy</text>
              </error>
            </iq>
            """);

        var response = await CreateAsync();

        var problem = await response.AssertProblemAsync(503, "component-unavailable");
        Assert.Equal("forbidden", (string?)problem["xmppCondition"]);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task AnUnsentCommandIs503WithRetryAfterAndTheGatewayDoesNotRetryIt()
    {
        _gateway.Xmpp.Throw(new XmppConnectionLostException("No XMPP connection is established.") { NeverSent = true });

        var response = await CreateAsync();

        await response.AssertProblemAsync(503, "xmpp-unavailable");
        Assert.NotNull(response.Headers.RetryAfter);
        // Once: the pool already tried it on every established connection (the one layer that retries never-sent IQs).
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ACommandLostAfterItWasSentIsNotRetried()
    {
        _gateway.Xmpp.Throw(new XmppConnectionLostException("stream lost"));

        var problem = await (await CreateAsync()).AssertProblemAsync(503, "xmpp-unavailable");

        Assert.Equal(true, (bool?)problem["outcomeUnknown"]);
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ComponentInternalErrorIs502()
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "wait", "internal-server-error", "database down"));

        var problem = await (await CreateAsync()).AssertProblemAsync(502, "component-error");

        Assert.Equal("database down", (string?)problem["detail"]);
    }

    [Fact]
    public async Task AMultiStageAnswerToASingleStageCommandIs502()
    {
        _gateway.Xmpp.Reply("""
            <iq type="result" from="commands.active-calls.activecalls.test">
              <command xmlns="http://jabber.org/protocol/commands" node="create" status="executing" sessionid="s1">
                <x xmlns="jabber:x:data" type="form"><field var="from" type="text-single"/></x>
              </command>
            </iq>
            """);

        await (await CreateAsync()).AssertProblemAsync(502, "component-error");
    }
}
