using System.Net;
using System.Text;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing;
using Gateway.Testing.OpenApi;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>
/// The check every test's answers go through (<see cref="GatewayFactory.Client"/>): it must report what does not
/// conform to openapi.yaml, or the whole suite's conformance would pass silently. The answers here are made up by a
/// stub, except the last test's, which come from the gateway through a contract it does not meet.
/// </summary>
public sealed class ContractConformanceTests
{
    private const string Json = "application/json";
    private const string ProblemJson = "application/problem+json";

    private const string RingingCall = """
        {"id":"ab12cd34","callSetupId":"ab12cd34","from":"sip:alice@example.com","to":"sip:bob@example.com","state":"caller-ringing",
         "endReason":null,"createdAt":"2026-01-15T09:30:00+00:00","updatedAt":"2026-01-15T09:30:01+00:00","endedAt":null,"legs":[]}
        """;

    private const string NotFoundProblem = """
        {"type":"urn:active-calls-gateway:problem:call-not-found","title":"The call is not known.","status":404,
         "detail":"No call with id 'zz99zz99' is known.","instance":"/calls/zz99zz99","code":"call-not-found","traceId":"00-abc-def-01"}
        """;

    [Fact]
    public void TheDocumentsExamplesConformToTheirSchemas() => Assert.Empty(ContractValidator.Gateway.CheckExamples());

    [Fact]
    public async Task ACallNotEndedAndAProblemAsTheGatewaySendsThemConform()
    {
        Assert.Null(await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", HttpStatusCode.OK, Json, RingingCall));
        Assert.Null(await ViolationAsync(HttpMethod.Get, "/calls/zz99zz99", HttpStatusCode.NotFound, ProblemJson, NotFoundProblem));
        Assert.Null(await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", HttpStatusCode.OK, Json,
            RingingCall.Replace("\"state\":\"caller-ringing\"", "\"state\":\"ended\"", StringComparison.Ordinal)
                .Replace("\"endReason\":null", "\"endReason\":\"canceled\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AMemberTheSchemaDoesNotDeclareIsReportedWithItsRequestAndPointer()
    {
        var violation = await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", HttpStatusCode.OK, Json,
            RingingCall.Replace("\"legs\":[]", "\"legs\":[],\"colour\":\"blue\"", StringComparison.Ordinal));

        Assert.NotNull(violation);
        Assert.StartsWith("GET /calls/ab12cd34 answered 200 application/json", violation, StringComparison.Ordinal);
        Assert.Contains("additionalProperties", violation, StringComparison.Ordinal);
        Assert.Contains("at '/colour'", violation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValueOutsideAnEnumIsReported()
    {
        var violation = await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", HttpStatusCode.OK, Json,
            RingingCall.Replace("\"endReason\":null", "\"endReason\":\"bored\"", StringComparison.Ordinal));

        Assert.NotNull(violation);
        Assert.Contains("at '/endReason'", violation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AProblemWithAnUndeclaredMemberOrCodeIsReported()
    {
        var extra = await ViolationAsync(HttpMethod.Get, "/calls/zz99zz99", HttpStatusCode.NotFound, ProblemJson,
            NotFoundProblem.Replace("\"code\":", "\"hint\":\"try again\",\"code\":", StringComparison.Ordinal));
        var code = await ViolationAsync(HttpMethod.Get, "/calls/zz99zz99", HttpStatusCode.NotFound, ProblemJson,
            NotFoundProblem.Replace("\"code\":\"call-not-found\"", "\"code\":\"gone-fishing\"", StringComparison.Ordinal));
        var traceless = await ViolationAsync(HttpMethod.Get, "/calls/zz99zz99", HttpStatusCode.NotFound, ProblemJson,
            NotFoundProblem.Replace(",\"traceId\":\"00-abc-def-01\"", "", StringComparison.Ordinal));

        Assert.Contains("at '/hint'", extra, StringComparison.Ordinal);
        Assert.Contains("at '/code'", code, StringComparison.Ordinal);
        Assert.Contains("traceId", traceless, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStatusOrContentTypeTheOperationDoesNotDeclareIsReported()
    {
        var status = await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", (HttpStatusCode)418, ProblemJson, NotFoundProblem);
        var contentType = await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34", HttpStatusCode.OK, "text/plain", "ringing");
        var unknownPath = await ViolationAsync(HttpMethod.Get, "/calls/ab12cd34/colour", HttpStatusCode.OK, Json, "{}");

        Assert.Contains("status 418 is not declared for GET /calls/{id}", status, StringComparison.Ordinal);
        Assert.Contains("content type text/plain is not declared", contentType, StringComparison.Ordinal);
        Assert.Contains("no path of the document matches", unknownPath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamIsCheckedForStatusAndContentTypeOnlyAndPathsOutsideTheApiNotAtAll()
    {
        Assert.Null(await ViolationAsync(HttpMethod.Get, "/calls/stream", HttpStatusCode.OK, "text/event-stream", "not: json\n\n"));
        Assert.NotNull(await ViolationAsync(HttpMethod.Get, "/calls/stream", HttpStatusCode.OK, Json, "{}"));
        Assert.Null(await ViolationAsync(HttpMethod.Get, "/dashboard/", HttpStatusCode.OK, "text/html", "<html></html>"));
    }

    [Fact]
    public async Task TheGatewaysClientFailsARequestWhoseAnswerDoesNotConform()
    {
        // The committed contract without the code the gateway answers an unknown call with.
        var yaml = await File.ReadAllTextAsync(RepositoryRoot.Combine("openapi.yaml"), Ct);
        Assert.Contains("        - call-not-found\n", yaml, StringComparison.Ordinal);
        await using var gateway = new GatewayFactory { Contract = ContractValidator.FromYaml(yaml.Replace("        - call-not-found\n", "", StringComparison.Ordinal)) };

        var failure = await Assert.ThrowsAsync<ContractViolationException>(() => gateway.Client().GetAsync("/calls/zz99zz99", Ct));

        Assert.StartsWith("GET /calls/zz99zz99 answered 404 application/problem+json", failure.Message, StringComparison.Ordinal);
        Assert.Contains("at '/code'", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>The violation reported for a made-up answer, or null when it conforms to openapi.yaml.</summary>
    private static async Task<string?> ViolationAsync(HttpMethod method, string path, HttpStatusCode status, string mediaType, string body)
    {
        using var client = new HttpClient(new ConformingHttpHandler(ContractValidator.Gateway) { InnerHandler = new Stub(status, mediaType, body) })
        {
            BaseAddress = new Uri("http://gateway.test"),
        };
        try
        {
            using var response = await client.SendAsync(new HttpRequestMessage(method, path), Ct);
            return null;
        }
        catch (ContractViolationException e)
        {
            return e.Message;
        }
    }

    private sealed class Stub(HttpStatusCode status, string mediaType, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { RequestMessage = request, Content = new StringContent(body, Encoding.UTF8, mediaType) });
    }
}
