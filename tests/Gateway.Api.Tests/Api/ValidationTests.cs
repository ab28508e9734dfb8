using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>Every invalid input is a 400 (or 413/415) problem with per-field errors, and nothing reaches XMPP.</summary>
public sealed class ValidationTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        Assert.Empty(_gateway.Xmpp.Sent);
        await _gateway.DisposeAsync();
    }

    private async Task<string[]> AssertFieldErrorAsync(HttpResponseMessage response, string field)
    {
        var problem = await response.AssertProblemAsync(400, "validation-failed");
        var messages = problem["errors"]![field]!.AsArray().Select(m => (string)m!).ToArray();
        Assert.NotEmpty(messages);
        return messages;
    }

    [Theory]
    [InlineData("""{"to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:alice@example.com"}""", "to")]
    [InlineData("""{"from":"alice@example.com","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:alice","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:alice@example.com;transport=tcp","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:alice@example.com:5060","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sips:alice@example.com","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"tel:+15555554567","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:<b>@example.com","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:a]]>b@example.com","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"15555554567@example.com","to":"sip:bob@example.com"}""", "from")]
    [InlineData("""{"from":"sip:alice@example.com","to":"bob@example.com"}""", "to")]
    [InlineData("""{"from":"sip:alice@example.com","to":"sip:alice@example.com"}""", "to")]
    [InlineData("""{"from":"sip:alice@example.com","to":"sip:bob@exa mple.com"}""", "to")]
    [InlineData("""{"from":"sip:alice@example.com","to":"sip:bob@example.com","callSetupId":"abc"}""", "callSetupId")]
    [InlineData("""{"from":"sip:alice@example.com","to":"sip:bob@example.com","callSetupId":"abcdefghi"}""", "callSetupId")]
    [InlineData("""{"from":"sip:alice@example.com","to":"sip:bob@example.com","callSetupId":"abcd-123"}""", "callSetupId")]
    public async Task CreateRejectsEachInvalidFieldBeforeAnyXmppTraffic(string body, string field)
    {
        await AssertFieldErrorAsync(await _gateway.Client().PostJsonAsync("/calls", body), field);
    }

    [Fact]
    public async Task CreateRejectsUnknownMembers()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", """{"from":"sip:alice@example.com","to":"sip:bob@example.com","timeout":30}""");

        var messages = await AssertFieldErrorAsync(response, "timeout");
        Assert.Contains("not a member", messages[0], StringComparison.Ordinal);
    }

    /// <summary>A body of every JSON endpoint that gives one member twice (the last one used to win silently).</summary>
    public static TheoryData<string, string, string> MembersGivenTwice => new()
    {
        { "/calls", """{"from":"sip:a@example.com","from":"sip:b@example.com","to":"sip:c@example.com"}""", "from" },
        { "/calls/ab12cd34/transfer", """{"endpoint":"callee","target":"sip:carol@example.com","target":"sip:dave@example.com"}""", "target" },
        { "/webhooks", """{"url":"http://127.0.0.1:9/hook","url":"http://127.0.0.1:9/other"}""", "url" },
        // Member names are matched case-insensitively, so two spellings are one member given twice.
        { "/calls", """{"from":"sip:alice@example.com","From":"sip:mallory@example.com","to":"sip:bob@example.com"}""", "From" },
    };

    [Theory]
    [MemberData(nameof(MembersGivenTwice))]
    public async Task AMemberGivenTwiceIsRefusedOnEveryJsonEndpointNamingIt(string path, string body, string member)
    {
        var client = _gateway.Client();

        var problem = await (await client.PostJsonAsync(path, body)).AssertProblemAsync(400, "validation-failed");

        Assert.Equal(["is given more than once."], problem["errors"]![member]!.AsArray().Select(m => (string?)m));
        Assert.Single(problem["errors"]!.AsObject());
        Assert.Contains($"'{member}' is given more than once", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Empty((await (await client.GetAsync("/webhooks", Ct)).JsonAsync())["items"]!.AsArray());
    }

    /// <summary>Bodies with an unknown member and invalid fields, and every member the 400 must name.</summary>
    public static TheoryData<string, string, string[]> UnknownMembersWithInvalidFields => new()
    {
        { "/calls", """{"from":"bad","to":"","colour":"red"}""", ["colour", "from", "to"] },
        { "/calls", """{"from":42,"to":"","colour":"red","size":{"x":1}}""", ["colour", "from", "size", "to"] },
        { "/calls/ab12cd34/transfer", """{"endpoint":"both","target":"carol","colour":"red"}""", ["colour", "endpoint", "target"] },
        { "/webhooks", """{"url":"ftp://127.0.0.1/hook","eventTypes":[],"colour":"red"}""", ["colour", "eventTypes", "url"] },
        { "/webhooks", """{"url":"http://127.0.0.1:9/hook","eventTypes":["call.ended",7],"secret":"mine"}""", ["eventTypes[1]", "secret"] },
    };

    [Theory]
    [MemberData(nameof(UnknownMembersWithInvalidFields))]
    public async Task AnUnknownMemberIsListedWithEveryOtherProblemOfTheBody(string path, string body, string[] members)
    {
        var problem = await (await _gateway.Client().PostJsonAsync(path, body)).AssertProblemAsync(400, "validation-failed");

        Assert.Equal(members, problem["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AMemberOfTheWrongJsonTypeSaysSoRatherThanThatItIsMissing()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", """{"from":42,"to":"","colour":"red"}""");

        var errors = (await response.AssertProblemAsync(400, "validation-failed"))["errors"]!;
        Assert.Equal("has the wrong JSON type (expected a string).", (string?)errors["from"]![0]);
        Assert.Equal("is required.", (string?)errors["to"]![0]);
        Assert.Equal("is not a member of this request.", (string?)errors["colour"]![0]);
    }

    [Fact]
    public async Task CreateRejectsAValueOfTheWrongJsonType()
    {
        await AssertFieldErrorAsync(await _gateway.Client().PostJsonAsync("/calls", """{"from":42,"to":"sip:bob@example.com"}"""), "from");
    }

    [Fact]
    public async Task CreateRejectsMalformedJson()
    {
        var response = await _gateway.Client().PostJsonAsync("/calls", """{"from":"sip:alice@example.com",""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task CreateRejectsAnOversizedBody()
    {
        var body = CreateBody().TrimEnd('}') + ",\"pad\":\"" + new string('x', 9000) + "\"}";

        var response = await _gateway.Client().PostJsonAsync("/calls", body);

        await response.AssertProblemAsync(413, "payload-too-large");
    }

    [Fact]
    public async Task CreateRejectsAnOversizedBodyWithoutContentLength()
    {
        // The oversized value is in a known member, so the JSON reader has to read all of it.
        var body = Encoding.UTF8.GetBytes(CreateBody(to: "sip:" + new string('x', 9000) + "@example.com"));
        var content = new StreamContent(new MemoryStream(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/calls") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var response = await _gateway.Client().SendAsync(request, Ct);

        await response.AssertProblemAsync(413, "payload-too-large");
    }

    [Fact]
    public async Task CreateRejectsANonJsonBody()
    {
        var response = await _gateway.Client().PostAsync("/calls", new StringContent("from=sip:alice@example.com", Encoding.UTF8, "application/x-www-form-urlencoded"), Ct);

        await response.AssertProblemAsync(415, "unsupported-media-type");
    }

    [Theory]
    [InlineData("""{"target":"sip:carol@example.com"}""", "endpoint")]
    [InlineData("""{"endpoint":"both","target":"sip:carol@example.com"}""", "endpoint")]
    [InlineData("""{"endpoint":"caller"}""", "target")]
    [InlineData("""{"endpoint":"caller","target":"carol"}""", "target")]
    public async Task TransferRejectsEachInvalidField(string body, string field)
    {
        await AssertFieldErrorAsync(await _gateway.Client().PostJsonAsync("/calls/ab12cd34/transfer", body), field);
    }

    [Theory]
    [InlineData("state=ringing", "state")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("address=nobody", "address")]
    public async Task ListRejectsInvalidQueries(string query, string field)
    {
        await AssertFieldErrorAsync(await _gateway.Client().GetAsync("/calls?" + query, Ct), field);
    }
}
