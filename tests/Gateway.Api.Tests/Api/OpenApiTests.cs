using System.Net;
using System.Text.Json.Nodes;
using Gateway.Api.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>The committed <c>openapi.yaml</c> is the contract; it must equal what the gateway serves.</summary>
public sealed class OpenApiTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task TheServedDocumentEqualsTheCommittedOpenApiYaml()
    {
        var served = await _gateway.Client(key: null).GetStringAsync("/openapi/v1.yaml", Ct);
        var path = Path.Combine(RepositoryRoot(), "openapi.yaml");
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(path, served, Ct);
        Assert.True(File.Exists(path), "openapi.yaml is missing at the repository root; run the tests with UPDATE_OPENAPI=1 to write it.");

        var committed = Canonical(await File.ReadAllTextAsync(path, Ct));
        var actual = Canonical(served);

        if (committed != actual)
        {
            await File.WriteAllTextAsync(path + ".served", served, Ct);
            var at = committed.Zip(actual).TakeWhile(p => p.First == p.Second).Count();
            Assert.Fail($"openapi.yaml differs from the served document (written to openapi.yaml.served) near: " +
                        $"'{actual.Substring(Math.Max(0, at - 80), Math.Min(160, actual.Length - Math.Max(0, at - 80)))}'. " +
                        "If the change is intended, run the tests with UPDATE_OPENAPI=1 and commit openapi.yaml.");
        }
    }

    [Fact]
    public async Task TheJsonDocumentDescribesOperationsProblemsExamplesAndSecurity()
    {
        var document = JsonNode.Parse(await _gateway.Client(key: null).GetStringAsync("/openapi/v1.json", Ct))!;

        var create = document["paths"]!["/calls"]!["post"]!;
        Assert.Equal("Place a call", (string?)create["summary"]);
        Assert.NotNull(create["requestBody"]!["content"]!["application/json"]!["example"]);
        Assert.NotNull(create["responses"]!["202"]!["content"]!["application/json"]!["example"]);
        foreach (var status in new[] { "400", "401", "403", "409", "413", "422", "429", "502", "503", "504" })
            Assert.NotNull(create["responses"]![status]!["content"]!["application/problem+json"]);
        Assert.Contains(create["parameters"]!.AsArray(), p => (string?)p!["name"] == "Idempotency-Key");
        Assert.NotNull(document["components"]!["securitySchemes"]!["Bearer"]);
        Assert.NotNull(document["components"]!["securitySchemes"]!["ApiKey"]);
        foreach (var (path, method) in new[] { ("/calls", "get"), ("/calls/{id}", "get"), ("/calls/{id}", "delete"), ("/calls/{id}/events", "get"), ("/calls/{id}/transfer", "post") })
            Assert.NotNull(document["paths"]![path]![method]);
        var stream = document["paths"]!["/calls/stream"]!["get"]!["responses"]!["200"]!["content"]!["text/event-stream"]!["schema"]!["oneOf"]!.AsArray();
        Assert.Equal(["#/components/schemas/CallSnapshotMessage", "#/components/schemas/CallEventMessage", "#/components/schemas/EventsDroppedMessage"],
            stream.Select(s => (string?)s!["$ref"]));
    }

    [Fact]
    public async Task SwaggerUiIsServedAndPointsAtTheDocument()
    {
        var response = await _gateway.Client(key: null).GetAsync("/swagger/index.html", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var config = await _gateway.Client(key: null).GetStringAsync("/swagger/index.js", Ct);
        Assert.Contains("/openapi/v1.json", config, StringComparison.Ordinal);
    }

    /// <summary>A YAML document as canonical text: mappings with sorted keys, so formatting and key order do not count.</summary>
    private static string Canonical(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var builder = new System.Text.StringBuilder();
        Write(stream.Documents[0].RootNode, builder);
        return builder.ToString();
    }

    private static void Write(YamlNode node, System.Text.StringBuilder builder)
    {
        switch (node)
        {
            case YamlMappingNode map:
                builder.Append('{');
                foreach (var (key, value) in map.Children.OrderBy(c => ((YamlScalarNode)c.Key).Value, StringComparer.Ordinal))
                {
                    builder.Append(((YamlScalarNode)key).Value).Append(':');
                    Write(value, builder);
                    builder.Append(',');
                }
                builder.Append('}');
                break;
            case YamlSequenceNode sequence:
                builder.Append('[');
                foreach (var item in sequence.Children)
                {
                    Write(item, builder);
                    builder.Append(',');
                }
                builder.Append(']');
                break;
            case YamlScalarNode scalar:
                builder.Append('"').Append(scalar.Value).Append('"');
                break;
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
