using System.Net;
using static Gateway.Client.Tests.GatewayJsonSamples;

namespace Gateway.Client.Tests;

public sealed class GatewayApiTests
{
    private static GatewayClient Client(ScriptedHandler gateway) =>
        new(new GatewayClientOptions { BaseAddress = new Uri("http://gateway.test"), ApiKey = "k1", HttpMessageHandler = gateway });

    private static readonly CreateCallRequest AliceToBob = new() { From = "sip:alice@example.com", To = "sip:bob@example.com" };

    [Fact]
    public async Task PlaceCallSendsTheApiKeyAndTheGivenIdempotencyKey()
    {
        var gateway = new ScriptedHandler().Then(HttpStatusCode.Accepted, Call("ab12cd34", "requested"));
        using var client = Client(gateway);

        var call = await client.PlaceCallAsync(AliceToBob, "retry-key-1", TestContext.Current.CancellationToken);

        Assert.Equal("ab12cd34", call.Id);
        Assert.Equal(CallState.Requested, call.State);
        Assert.Null(call.EndReason);
        var request = Assert.Single(gateway.Requests);
        Assert.Equal("http://gateway.test/calls", request.RequestUri!.AbsoluteUri);
        Assert.Equal("k1", Assert.Single(request.Headers.GetValues("X-Api-Key")));
        Assert.Equal("retry-key-1", Assert.Single(request.Headers.GetValues("Idempotency-Key")));
    }

    [Fact]
    public async Task PlaceCallWithoutAKeyMakesAFreshOneEachTime()
    {
        var gateway = new ScriptedHandler().Then(HttpStatusCode.Accepted, Call("ab12cd34", "requested")).Then(HttpStatusCode.Accepted, Call("ef56ab78", "requested"));
        using var client = Client(gateway);

        await client.PlaceCallAsync(AliceToBob, cancellationToken: TestContext.Current.CancellationToken);
        await client.PlaceCallAsync(AliceToBob, cancellationToken: TestContext.Current.CancellationToken);

        var keys = gateway.Requests.Select(r => Assert.Single(r.Headers.GetValues("Idempotency-Key"))).ToList();
        Assert.All(keys, k => Assert.False(string.IsNullOrWhiteSpace(k)));
        Assert.NotEqual(keys[0], keys[1]);
    }

    [Fact]
    public async Task EndedCallReadsItsEndReason()
    {
        var gateway = new ScriptedHandler().Then(HttpStatusCode.OK, Call("ab12cd34", "ended", "callee-not-answered"));
        using var client = Client(gateway);

        var call = await client.Api.GetCallAsync("ab12cd34", TestContext.Current.CancellationToken);

        Assert.Equal(CallState.Ended, call.State);
        Assert.Equal(CallEndReason.CalleeNotAnswered, call.EndReason);
    }

    [Fact]
    public async Task ProblemIsATypedExceptionWhateverMembersItCarries()
    {
        var gateway = new ScriptedHandler().ThenProblem(HttpStatusCode.NotFound,
            """{"type":"urn:active-calls-gateway:problem:call-not-found","title":"Call not found","status":404,"detail":"No call with id ab12cd34.","code":"call-not-found","traceId":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","xmppCondition":"item-not-found","somethingNew":{"a":1}}""");
        using var client = Client(gateway);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => client.Api.HangUpCallAsync("ab12cd34", TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.NotFound, problem.Status);
        Assert.Equal("call-not-found", problem.Code);
        Assert.Equal("No call with id ab12cd34.", problem.Detail);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", problem.TraceId);
        Assert.False(problem.IsTransient);
    }

    [Fact]
    public async Task ValidationProblemCarriesTheFieldErrors()
    {
        var gateway = new ScriptedHandler().ThenProblem(HttpStatusCode.BadRequest,
            """{"type":"urn:active-calls-gateway:problem:validation-failed","title":"One or more validation errors occurred.","status":400,"code":"validation-failed","errors":{"to":["'to' must be a SIP address."]}}""");
        using var client = Client(gateway);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => client.PlaceCallAsync(AliceToBob, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("validation-failed", problem.Code);
        Assert.Equal(["'to' must be a SIP address."], problem.Errors["to"]);
    }

    [Fact]
    public async Task UnavailableServiceIsTransientWithItsRetryAfter()
    {
        var gateway = new ScriptedHandler().ThenProblem(HttpStatusCode.ServiceUnavailable, """{"status":503,"code":"component-unavailable"}""", TimeSpan.FromSeconds(5));
        using var client = Client(gateway);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => client.Api.ListCallsAsync(cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("component-unavailable", problem.Code);
        Assert.True(problem.IsTransient);
        Assert.Equal(TimeSpan.FromSeconds(5), problem.RetryAfter);
    }

    [Fact]
    public async Task AnswerThatIsNotAProblemKeepsItsStatusAndBody()
    {
        var gateway = new ScriptedHandler().Then(HttpStatusCode.BadGateway, "<html>bad gateway</html>", "text/html");
        using var client = Client(gateway);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => client.Api.GetCallAsync("ab12cd34", TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.BadGateway, problem.Status);
        Assert.Null(problem.Code);
        Assert.Equal("<html>bad gateway</html>", problem.Body);
    }
}
