using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Dashboard;

/// <summary>The dashboard's page and assets are served at <c>/</c> next to the API, which still requires a key.
/// What the page does in a browser is tested in <c>EndToEnd/DashboardEndToEndTests</c>.</summary>
public sealed partial class DashboardTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [GeneratedRegex("""(?:src|href)="(?<url>[^"]+)"|from "(?<url>[^"]+)"|import\("(?<url>[^"]+)"\)""")]
    private static partial Regex References();

    private static HttpRequestMessage BrowserGet(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        return request;
    }

    [Fact]
    public async Task TheRootServesTheDashboardPageToABrowserWithoutAKey()
    {
        var response = await _gateway.Client(key: null).SendAsync(BrowserGet("/"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("<h1>Active calls</h1>", html, StringComparison.Ordinal);
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task EveryScriptStylesheetAndModuleThePageLoadsComesFromTheGatewayItself()
    {
        var client = _gateway.Client(key: null);
        var pending = new Queue<(string Url, string From)>([("/", "the root")]);
        var fetched = new HashSet<string>(StringComparer.Ordinal);
        while (pending.TryDequeue(out var next))
        {
            if (!fetched.Add(next.Url)) continue;
            var response = await client.SendAsync(BrowserGet(next.Url), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{next.Url} (referenced by {next.From}) is {(int)response.StatusCode}");
            var body = await response.Content.ReadAsStringAsync(Ct);
            if (next.Url.EndsWith(".min.js", StringComparison.Ordinal)) continue; // the SignalR bundle references nothing the page needs
            var baseUri = new Uri(new Uri("http://gateway"), next.Url);
            foreach (Match reference in References().Matches(body))
            {
                var url = reference.Groups["url"].Value;
                if (url.StartsWith("data:", StringComparison.Ordinal)) continue;
                Assert.DoesNotContain("//", url, StringComparison.Ordinal); // no CDN: nothing from another origin
                pending.Enqueue((new Uri(baseUri, url).AbsolutePath, next.Url));
            }
        }
        Assert.Contains("/lib/signalr/signalr.min.js", fetched);
        Assert.Contains("/js/dashboard.js", fetched);
        Assert.Contains("/js/stream.js", fetched);
    }

    [Fact]
    public async Task ABrowserAcceptingGzipGetsTheAssetsCompressedAndIntact()
    {
        var request = BrowserGet("/lib/signalr/signalr.min.js");
        request.Headers.AcceptEncoding.ParseAdd("gzip, deflate, br");

        var response = await _gateway.Client(key: null).SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        await using var gzip = new System.IO.Compression.GZipStream(await response.Content.ReadAsStreamAsync(Ct), System.IO.Compression.CompressionMode.Decompress);
        using var decoded = new MemoryStream();
        await gzip.CopyToAsync(decoded, Ct);
        var identity = await _gateway.Client(key: null).GetByteArrayAsync("/lib/signalr/signalr.min.js", Ct);
        Assert.True(identity.Length > 10_000, $"the SignalR bundle is only {identity.Length} bytes");
        Assert.Equal(identity, decoded.ToArray());
    }

    [Fact]
    public async Task TheApiNextToThePageStillRequiresAKey()
    {
        var response = await _gateway.Client(key: null).GetAsync("/calls", Ct);

        await response.AssertProblemAsync(401, "unauthorized");
    }

    [Fact]
    public async Task OutsideDevelopmentThePageIsOfferedNoKey()
    {
        var response = await _gateway.Client(key: null).GetAsync("/dashboard/settings", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null((await response.JsonAsync())["devApiKey"]);
        Assert.True(response.Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task InDevelopmentThePageIsOfferedTheConfiguredDevKey()
    {
        await using var development = new GatewayFactory { EnvironmentName = "Development" };
        development.Settings["Gateway:Dashboard:DevApiKey"] = GatewayFactory.AdminKey;
        // appsettings.Development.json points at the local stack; this test has none.
        development.Settings["Gateway:Xmpp:TrustedCertificatePath"] = "";
        development.Settings["Gateway:Events:Enabled"] = "false";

        var settings = await development.Client(key: null).GetAsync("/dashboard/settings", Ct);

        Assert.Equal(GatewayFactory.AdminKey, (string?)(await settings.JsonAsync())["devApiKey"]);
        var withIt = await development.Client(GatewayFactory.AdminKey).GetAsync("/calls", Ct);
        Assert.Equal(HttpStatusCode.OK, withIt.StatusCode);
    }

    [Fact]
    public async Task TheOpenApiDocumentDoesNotListThePagesOwnEndpoints()
    {
        var document = JsonNode.Parse(await _gateway.Client(key: null).GetStringAsync("/openapi/v1.json", Ct))!;

        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.DoesNotContain(paths, p => p.StartsWith("/dashboard", StringComparison.Ordinal) || p.Contains('.', StringComparison.Ordinal));
    }
}
