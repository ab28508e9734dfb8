using System.Net;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

public sealed class AuthTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task NoKeyIs401ProblemWithWwwAuthenticate()
    {
        var response = await _gateway.Client(key: null).PostJsonAsync("/calls", CreateBody());

        await response.AssertProblemAsync(401, "unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Empty(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task AWrongKeyIs401WithInvalidToken()
    {
        var response = await _gateway.Client(key: "not-a-key").GetAsync("/calls", Ct);

        await response.AssertProblemAsync(401, "unauthorized");
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.Single().Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheKeyCanComeInTheXApiKeyHeader()
    {
        var client = _gateway.Client(key: null);
        client.DefaultRequestHeaders.Add("X-Api-Key", GatewayFactory.AliceKey);

        var response = await client.GetAsync("/calls", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task PlacingACallFromAnAddressOutsideTheKeysScopeIs403()
    {
        var response = await _gateway.Client(GatewayFactory.AliceKey).PostJsonAsync("/calls", CreateBody(from: "sip:mallory@example.com"));

        await response.AssertProblemAsync(403, "out-of-scope");
        Assert.Empty(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task AKeyScopedToAnAddressMayCallFromItOnlyToItsDestinations()
    {
        var alice = _gateway.Client(GatewayFactory.AliceKey);

        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostJsonAsync("/calls", CreateBody(to: "sip:carol@example.com"))).StatusCode);
        await (await alice.PostJsonAsync("/calls", CreateBody(to: "sip:someone@elsewhere.net"))).AssertProblemAsync(403, "destination-not-allowed");
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task ADomainScopeCoversEveryUserOfTheDomainOnly()
    {
        var client = _gateway.Client(GatewayFactory.DomainKey);

        Assert.Equal(HttpStatusCode.Accepted, (await client.PostJsonAsync("/calls", CreateBody(from: "sip:carol@EXAMPLE.com"))).StatusCode);
        await (await client.PostJsonAsync("/calls", CreateBody(from: "sip:carol@example.org"))).AssertProblemAsync(403, "out-of-scope");
    }

    [Fact]
    public async Task ACallOutsideTheKeysScopeCannotBeReadOrHungUpAndIsNotListed()
    {
        await _gateway.Client().PostJsonAsync("/calls", CreateBody(from: "sip:dave@example.org", to: "sip:erin@example.org", callSetupId: "dave0001"));
        var alice = _gateway.Client(GatewayFactory.AliceKey);

        await (await alice.GetAsync("/calls/dave0001", Ct)).AssertProblemAsync(403, "out-of-scope");
        await (await alice.DeleteAsync("/calls/dave0001", Ct)).AssertProblemAsync(403, "out-of-scope");
        var list = await (await alice.GetAsync("/calls", Ct)).JsonAsync();
        Assert.Empty(list["items"]!.AsArray());
        Assert.Single(_gateway.Xmpp.Sent);
    }

    [Fact]
    public async Task HealthAndTheOpenApiDocumentNeedNoKey()
    {
        var client = _gateway.Client(key: null);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json", Ct)).StatusCode);
    }
}
