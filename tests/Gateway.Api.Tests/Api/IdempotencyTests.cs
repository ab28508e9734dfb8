using System.Net;
using Gateway.Api.Calls;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

public sealed class IdempotencyTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task ARepeatWithTheSameKeyAndBodyReplaysTheFirstResponseWithoutASecondCommand()
    {
        var client = _gateway.Client();

        var first = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-1");
        // Same members in another order and other whitespace: the same request.
        var second = await client.PostJsonAsync("/calls", """{ "to": "sip:bob@example.com", "from": "sip:alice@example.com" }""", idempotencyKey: "k-1");

        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal(await first.Content.ReadAsStringAsync(Ct), await second.Content.ReadAsStringAsync(Ct));
        Assert.Equal("true", second.Headers.GetValues("Idempotency-Replayed").Single());
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ConcurrentDuplicatesSendOneCommandAndGetTheSameAnswer()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gateway.Xmpp.ReplyAfter(release.Task);
        var client = _gateway.Client();

        var requests = Enumerable.Range(0, 3).Select(_ => client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-concurrent")).ToList();
        while (_gateway.Xmpp.Sent.Count == 0) await Task.Delay(10, Ct);
        await Task.Delay(100, Ct); // let the duplicates arrive and wait
        release.SetResult();
        var responses = await Task.WhenAll(requests);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Single(responses.Select(r => r.Headers.Location).Distinct());
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task TheSameKeyWithAnotherBodyIs422()
    {
        var client = _gateway.Client();
        await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-2");

        var other = await client.PostJsonAsync("/calls", CreateBody(to: "sip:carol@example.com"), idempotencyKey: "k-2");

        await other.AssertProblemAsync(422, "idempotency-key-reused");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task KeysAreScopedPerApiKey()
    {
        await _gateway.Client(GatewayFactory.AdminKey).PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-3");
        await _gateway.Client(GatewayFactory.AliceKey).PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-3");

        Assert.Equal(2, _gateway.Xmpp.Sent.Count);
    }

    [Fact]
    public async Task AnAnswerThatSaysNothingWasDoneIsNotStoredSoTheRetryExecutes()
    {
        _gateway.Xmpp.Throw(new XmppConnectionLostException("no connection") { NeverSent = true });
        var client = _gateway.Client();

        var first = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-4");
        var retry = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-4");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
    }

    [Fact]
    public async Task ARetryAfterAnUnknownOutcomeNeverSendsASecondCreateAndGetsTheCallOnceItsLegsShow()
    {
        // The stream was lost after the create went out: the 503 is not stored, so the retry executes again.
        _gateway.Xmpp.Throw(new XmppConnectionLostException("stream lost") { NeverSent = false });
        var client = _gateway.Client();

        var first = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-6");
        var callSetupId = (string?)(await first.JsonAsync())["callSetupId"];
        var retry = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-6");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        var pending = await retry.AssertProblemAsync(503, "create-outcome-unknown");
        Assert.Equal(callSetupId, (string?)pending["callSetupId"]);
        Assert.NotNull(retry.Headers.RetryAfter);
        Assert.Single(_gateway.Xmpp.Sent);

        // The first create did place the call: its first leg shows, and the next retry answers with that call.
        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(callSetupId!, "requested"), "item-setup", Node, Ct);
        var placed = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-6");

        Assert.Equal(HttpStatusCode.Accepted, placed.StatusCode);
        Assert.Equal(callSetupId, (string?)(await placed.JsonAsync())["id"]);
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ARetryAfterATimeoutIsNotAReplayOfTheTimeoutButFindsTheCallTheFirstTryPlaced()
    {
        _gateway.Xmpp.Throw(new XmppIqTimeoutException("iq-1", TimeSpan.FromSeconds(2)));
        var client = _gateway.Client();
        var first = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-9");
        var callSetupId = (string?)(await first.AssertProblemAsync(504, "component-timeout"))["callSetupId"];

        await _gateway.Calls.ApplyPublishedAsync(SetupLeg(callSetupId!, "requested"), "item-setup", Node, Ct);
        var retry = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-9");

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.False(retry.Headers.Contains("Idempotency-Replayed"));
        Assert.Equal(callSetupId, (string?)(await retry.JsonAsync())["id"]);
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ACreateWithAnIdempotencyKeyNamesItsCallAfterTheKeySoEveryRetryNamesTheSameCall()
    {
        var client = _gateway.Client();

        var first = (string?)(await (await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-7")).JsonAsync())["id"];
        var other = (string?)(await (await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-8")).JsonAsync())["id"];

        Assert.Equal(CallValidation.CallSetupIdFor("admin", "k-7", "sip:alice@example.com", "sip:bob@example.com"), first);
        Assert.NotEqual(first, other);
        Assert.Equal(first, _gateway.Xmpp.Sent[0].Field("call-setup-id"));
        Assert.Equal(other, _gateway.Xmpp.Sent[1].Field("call-setup-id"));
    }

    [Fact]
    public async Task AComponentRefusalIsStoredAndReplayed()
    {
        _gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "modify", "bad-request", "Execution Errors; no route",
            System.Xml.Linq.XName.Get("bad-action", "http://jabber.org/protocol/commands")));
        var client = _gateway.Client();

        var first = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-5");
        var second = await client.PostJsonAsync("/calls", CreateBody(), idempotencyKey: "k-5");

        await first.AssertProblemAsync(422, "command-failed");
        await second.AssertProblemAsync(422, "command-failed");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task TransferIsIdempotentToo()
    {
        var client = _gateway.Client();
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: "ab12cd34"));
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg("ab12cd34", "created"), "item-callee", Node, Ct);
        await _gateway.Calls.ApplyPublishedAsync(CalleeLeg("ab12cd34", "confirmed", toTag: "tt"), "item-callee", Node, Ct);
        const string body = """{"endpoint":"callee","target":"sip:carol@example.com"}""";

        var first = await client.PostJsonAsync("/calls/ab12cd34/transfer", body, idempotencyKey: "t-1");
        var second = await client.PostJsonAsync("/calls/ab12cd34/transfer", body, idempotencyKey: "t-1");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal("true", second.Headers.GetValues("Idempotency-Replayed").Single());
        Assert.Equal(2, _gateway.Xmpp.Sent.Count); // create + one transfer
    }

    [Fact]
    public async Task AnInvalidKeyIs400()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", CreateBody(), idempotencyKey: new string('k', 300));

        await response.AssertProblemAsync(400, "invalid-idempotency-key");
        Assert.Empty(_gateway.Xmpp.Sent);
    }
}
