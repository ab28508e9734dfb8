using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace Gateway.Testing.OpenApi;

/// <summary>
/// Checks an HTTP answer against an OpenAPI 3.1 document: the operation (path template and method) must declare the
/// status (or its <c>4XX</c> range, or <c>default</c>), the content type must be one it declares for that status, and a
/// JSON body must be valid against that content's schema (JSON Schema 2020-12, with the document's
/// <c>#/components/schemas</c> as <c>$defs</c>). Bodies that are not JSON (event streams) are checked for status and
/// content type only.
/// <para>Paths under none of the document's first segments (the dashboard, its static files, SignalR's hub, health
/// probes, the document itself) are outside the contract and not checked. A path under one of them (e.g.
/// <c>/calls/...</c>) that matches no operation must be answered with a 404 or 405 <c>Problem</c>.</para>
/// </summary>
public sealed partial class ContractValidator
{
    private const string ProblemSchema = "Problem";
    private static readonly string[] OperationSections = ["paths", "webhooks"];
    private readonly JsonObject _document;
    private readonly List<(Regex Pattern, string Template, int Literals)> _paths;
    private readonly HashSet<string> _apiRoots;
    private readonly SchemaRegistry _registry = new();
    private readonly Uri _root = new($"https://contract.test/{Guid.NewGuid():N}/openapi.json");
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);

    private static readonly Lazy<ContractValidator> Committed = new(() => FromYaml(File.ReadAllText(RepositoryRoot.Combine("openapi.yaml"))));

    /// <summary>The gateway's contract: the committed <c>openapi.yaml</c>.</summary>
    public static ContractValidator Gateway => Committed.Value;

    public static ContractValidator FromYaml(string yaml) => new(OpenApiYaml.Parse(yaml));

    private ContractValidator(JsonObject document)
    {
        _document = document;
        var paths = document["paths"]?.AsObject() ?? [];
        _paths = [.. paths.Select(p => (Template(p.Key), p.Key, p.Key.Split('/').Count(s => s.Length > 0 && !s.StartsWith('{'))))
            .OrderByDescending(p => p.Item3).ThenByDescending(p => p.Key.Length)];
        _apiRoots = [.. paths.Select(p => p.Key.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "")];

        // One schema resource with every component schema under $defs; each response's schema refers into it.
        var defs = Rewrite(document["components"]?["schemas"]?.DeepClone() ?? new JsonObject());
        var root = new JsonObject { ["$schema"] = "https://json-schema.org/draft/2020-12/schema", ["$id"] = _root.ToString(), ["$defs"] = defs };
        JsonSchema.Build(JsonSerializer.SerializeToElement(root), new BuildOptions { SchemaRegistry = _registry }, _root);
    }

    public static bool IsJson(string? mediaType) =>
        mediaType is not null && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
                                  mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>What is wrong with the answer (nothing when it conforms). <paramref name="body"/> is read only for JSON
    /// media types; <paramref name="mediaType"/> is null when the answer has no content type.</summary>
    public IReadOnlyList<string> Check(string method, string path, int status, string? mediaType, string? body)
    {
        var trimmed = path.Length > 1 ? path.TrimEnd('/') : path;
        var root = trimmed.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        if (!_apiRoots.Contains(root)) return [];

        var match = _paths.FirstOrDefault(p => p.Pattern.IsMatch(trimmed));
        var operation = match.Template is null ? null : _document["paths"]![match.Template]![method.ToLowerInvariant()];
        if (operation is null)
        {
            // Not an operation of the document: the router's 404 / 405, which must still be a problem.
            var what = match.Template is null ? "no path of the document matches" : $"{match.Template} declares no {method.ToUpperInvariant()}";
            if (status is not (404 or 405)) return [$"{what}, yet the answer is {status}, not 404 or 405"];
            return _document["components"]?["schemas"]?[ProblemSchema] is null
                ? []
                : CheckBody(mediaType, body, $"#/components/schemas/{ProblemSchema}", $"the {what}: ");
        }

        var responses = operation["responses"]?.AsObject() ?? [];
        var code = status.ToString(CultureInfo.InvariantCulture);
        var (key, response) = Find(responses, code) ?? Find(responses, code[0] + "XX") ?? Find(responses, "default") ?? default;
        if (response is null)
            return [$"status {status} is not declared for {method.ToUpperInvariant()} {match.Template} (declared: {string.Join(", ", responses.Select(r => r.Key))})"];

        var content = response["content"]?.AsObject();
        if (content is null || content.Count == 0)
            return mediaType is null ? [] : [$"a {mediaType} body was sent, but {key} declares no content"];
        if (mediaType is null) return [$"no content type, but {key} declares {string.Join(", ", content.Select(c => c.Key))}"];
        var declared = content.FirstOrDefault(c => c.Key.Equals(mediaType, StringComparison.OrdinalIgnoreCase) || c.Key == "*/*");
        if (declared.Key is null) return [$"content type {mediaType} is not declared for {key} (declared: {string.Join(", ", content.Select(c => c.Key))})"];
        if (!IsJson(mediaType) || declared.Value?["schema"] is null) return [];
        var pointer = $"#/paths/{Escape(match.Template!)}/{method.ToLowerInvariant()}/responses/{Escape(key)}/content/{Escape(declared.Key)}/schema";
        return CheckBody(mediaType, body, pointer, "");
    }

    /// <summary>What is wrong with the document's own examples: each request and response example must be valid against
    /// the schema beside it, or the document shows clients answers the gateway would not send.</summary>
    public IReadOnlyList<string> CheckExamples()
    {
        var violations = new List<string>();
        foreach (var (section, template, item) in OperationSections.SelectMany(section =>
                     (_document[section]?.AsObject() ?? []).Select(p => (section, p.Key, p.Value))))
        {
            foreach (var (method, operation) in item?.AsObject() ?? [])
            {
                var bodies = new List<(string Pointer, JsonObject? Content)>
                {
                    ($"#/{section}/{Escape(template)}/{method}/requestBody/content", operation?["requestBody"]?["content"]?.AsObject()),
                };
                bodies.AddRange((operation?["responses"]?.AsObject() ?? []).Select(r =>
                    ($"#/{section}/{Escape(template)}/{method}/responses/{Escape(r.Key)}/content", r.Value?["content"]?.AsObject())));
                foreach (var (pointer, content) in bodies)
                {
                    foreach (var (media, value) in content ?? [])
                    {
                        if (value?["example"] is not { } example || value["schema"] is null) continue;
                        var schemaPointer = $"{pointer}/{Escape(media)}/schema";
                        violations.AddRange(CheckBody("application/json", example.ToJsonString(), schemaPointer, $"{method.ToUpperInvariant()} {template} example: "));
                    }
                }
            }
        }
        return violations;
    }

    private List<string> CheckBody(string? mediaType, string? body, string schemaPointer, string prefix)
    {
        if (!IsJson(mediaType)) return [$"{prefix}content type {mediaType ?? "(none)"} is not JSON"];
        JsonDocument instance;
        try
        {
            instance = JsonDocument.Parse(string.IsNullOrEmpty(body) ? "" : body);
        }
        catch (JsonException e)
        {
            return [$"{prefix}the body is not JSON: {e.Message}"];
        }
        using (instance)
        {
            var schema = _schemas.GetOrAdd(schemaPointer, Build);
            var results = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (results.IsValid) return [];
            var errors = (results.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"at '{d.InstanceLocation}': {e.Key}: {e.Value} (schema {d.EvaluationPath})"))
                .Distinct()
                .Take(12)
                .ToList();
            if (errors.Count == 0 && results.Errors is { Count: > 0 } own) errors.AddRange(own.Select(e => $"at '': {e.Key}: {e.Value}"));
            return [$"{prefix}the body does not conform to {schemaPointer}: {string.Join("; ", errors)}"];
        }
    }

    /// <summary>The schema at <paramref name="pointer"/> in the document, its component references resolved in the $defs resource.</summary>
    private JsonSchema Build(string pointer)
    {
        JsonNode? node = _document;
        foreach (var segment in pointer[2..].Split('/')) node = node?[segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
        if (node is null) throw new InvalidOperationException($"{pointer} is not in the document.");
        var schema = Rewrite(node.DeepClone());
        if (schema is JsonObject obj) obj["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        var id = new Uri(_root, $"response/{Guid.NewGuid():N}.json");
        // Tests run in parallel; building registers the schema, so one at a time.
        lock (_registry) return JsonSchema.Build(JsonSerializer.SerializeToElement(schema), new BuildOptions { SchemaRegistry = _registry }, id);
    }

    /// <summary>Points <c>#/components/schemas/X</c> references at the $defs resource.</summary>
    private JsonNode Rewrite(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj.ToList())
                {
                    if (name == "$ref" && value is JsonValue reference && reference.GetValue<string>() is { } target &&
                        target.StartsWith("#/components/schemas/", StringComparison.Ordinal))
                        obj[name] = _root + "#/$defs/" + target["#/components/schemas/".Length..];
                    else if (value is not null) Rewrite(value);
                }
                break;
            case JsonArray array:
                foreach (var item in array) if (item is not null) Rewrite(item);
                break;
        }
        return node;
    }

    private static (string Key, JsonNode? Response)? Find(JsonObject responses, string key) =>
        responses.TryGetPropertyValue(key, out var response) && response is not null ? (key, response) : null;

    private static Regex Template(string template) =>
        new("^" + TemplateParameter().Replace(Regex.Escape(template).Replace(@"\{", "{", StringComparison.Ordinal), "[^/]+") + "$", RegexOptions.CultureInvariant);

    private static string Escape(string segment) => segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    [GeneratedRegex(@"\{[^}/]+\}")]
    private static partial Regex TemplateParameter();
}
