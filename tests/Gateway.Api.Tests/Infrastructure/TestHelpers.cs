using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Tests.Infrastructure;

public static class TestHelpers
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Reads until <paramref name="until"/> holds, for at most <paramref name="seconds"/> (generous: no timing is asserted).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> until, string what, int seconds = 30)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (until(value)) return value;
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(seconds), $"never {what}: {value}");
            await Task.Delay(50, Ct);
        }
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, string json, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request, Ct);
    }

    public static async Task<JsonObject> JsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();

    /// <summary>Asserts a problem+json response of <paramref name="status"/> and <paramref name="code"/>; returns its body.</summary>
    public static async Task<JsonObject> AssertProblemAsync(this HttpResponseMessage response, int status, string code)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(code, (string?)problem["code"]);
        Assert.Equal("urn:active-calls-gateway:problem:" + code, (string?)problem["type"]);
        Assert.Equal(status, (int?)problem["status"]);
        return problem;
    }

    /// <summary>XML equality ignoring insignificant whitespace.</summary>
    public static void XmlEqual(string expected, XElement actual)
    {
        var e = XElement.Parse(expected, LoadOptions.None);
        var a = XElement.Parse(actual.ToString(SaveOptions.DisableFormatting), LoadOptions.None);
        Assert.True(XNode.DeepEquals(Normalize(e), Normalize(a)), $"Expected:\n{e}\nActual:\n{a}");
    }

    private static XElement Normalize(XElement element) =>
        new(element.Name,
            element.Attributes().Where(a => !a.IsNamespaceDeclaration).OrderBy(a => a.Name.ToString()),
            element.Nodes().Select(n => n switch
            {
                XElement child => (object)Normalize(child),
                XText text when string.IsNullOrWhiteSpace(text.Value) => null!,
                XText text => new XText(text.Value.Trim()),
                _ => n,
            }).Where(n => n is not null));

    // Legs as the Active-Calls PubSub publishes them for a click-to-call from alice to bob.
    public static ActiveCallItem SetupLeg(string setupId, string state, string? toTag = null) => new()
    {
        DialogStateText = state, CallId = "setup-" + setupId, FromUri = "sip:call-setup@example.com", ToUri = "sip:alice@example.com",
        FromTag = "ft-setup", ToTag = toTag, ToAor = "alice@example.com", Branch = "z9hG4bK-setup", CallSetupId = setupId,
    };

    public static ActiveCallItem CalleeLeg(string setupId, string state, string? toTag = null) => new()
    {
        DialogStateText = state, CallId = "callee-" + setupId, FromUri = "sip:alice@example.com", ToUri = "sip:bob@example.com",
        FromTag = "ft-callee", ToTag = toTag, CallSetupId = setupId,
    };

    public const string Node = "/example.com/alice";

    public static string CreateBody(string from = "sip:alice@example.com", string to = "sip:bob@example.com", string? callSetupId = null) =>
        JsonSerializer.Serialize(callSetupId is null ? new { from, to } : (object)new { from, to, callSetupId });
}
