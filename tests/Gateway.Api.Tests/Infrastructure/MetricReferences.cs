using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Testing;
using YamlDotNet.RepresentationModel;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// The metric names an operator is given: in the Grafana dashboard's queries (<c>deploy/grafana</c>), in the alert rules
/// (<c>deploy/prometheus/alerts.yml</c>) and in the first column of the README's Operate table. A test checks them
/// against a real scrape, so a renamed instrument cannot leave them behind.
/// </summary>
internal static partial class MetricReferences
{
    public static readonly string Dashboard = RepositoryRoot.Combine("deploy", "grafana", "active-calls-gateway.json");
    public static readonly string Alerts = RepositoryRoot.Combine("deploy", "prometheus", "alerts.yml");
    public static readonly string Readme = RepositoryRoot.Combine("README.md");

    // Series the programs export; `up` and the like are Prometheus's own and not looked for.
    [GeneratedRegex("""\b(?:gateway|activecalls|sip|xmpp|http_server|kestrel|signalr|dotnet|aspnetcore)_[a-z0-9_]+\b""")]
    private static partial Regex MetricName();

    // What in PromQL names labels, not metrics: matchers, grouping clauses, strings.
    [GeneratedRegex("""\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|"[^"]*"|\[[^\]]*\]""")]
    private static partial Regex NotMetricNames();

    [GeneratedRegex("""^\|\s*`(?<name>[a-z0-9_]+)`""", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    public static IEnumerable<string> InPromQl(string expression) =>
        MetricName().Matches(NotMetricNames().Replace(expression, " ")).Select(m => m.Value);

    /// <summary>The <c>expr</c> of every target of every panel (rows' nested panels included).</summary>
    public static IReadOnlyList<string> DashboardExpressions()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Dashboard))!;
        return [.. Panels(dashboard["panels"]!.AsArray())
            .SelectMany(p => p["targets"]?.AsArray() ?? [])
            .Select(t => (string)t!["expr"]!)];

        static IEnumerable<JsonNode> Panels(JsonArray panels) =>
            panels.SelectMany(p => p!["panels"] is JsonArray nested ? [p, .. Panels(nested)] : new[] { p! });
    }

    /// <summary>Every rule's <c>expr</c>, by alert name.</summary>
    public static IReadOnlyDictionary<string, string> AlertExpressions()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Alerts)) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return ((YamlSequenceNode)root["groups"]).Cast<YamlMappingNode>()
            .SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>())
            .ToDictionary(r => ((YamlScalarNode)r["alert"]).Value!, r => ((YamlScalarNode)r["expr"]).Value!, StringComparer.Ordinal);
    }

    /// <summary>The exported names in the first column of the tables of the README's "## Operate" section.</summary>
    public static IReadOnlyList<string> ReadmeTable()
    {
        var readme = File.ReadAllText(Readme);
        var start = readme.IndexOf("\n## Operate", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no Operate section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? readme[start..] : readme[start..end];
        return [.. TableRow().Matches(section).Select(m => m.Groups["name"].Value)];
    }

    public static void AssertAllExist(IReadOnlySet<string> scraped)
    {
        var expressions = DashboardExpressions();
        var alerts = AlertExpressions();
        var table = ReadmeTable();
        Assert.NotEmpty(expressions);
        Assert.NotEmpty(alerts);
        Assert.NotEmpty(table);
        var missing = expressions.SelectMany(e => InPromQl(e).Select(n => (n, "dashboard: " + e)))
            .Concat(alerts.SelectMany(a => InPromQl(a.Value).Select(n => (n, "alert " + a.Key))))
            .Concat(table.Select(n => (n, "README Operate table")))
            .Where(r => !scraped.Contains(r.n) && !scraped.Contains(r.n + "_count"))
            .Select(r => $"{r.n} ({r.Item2})")
            .Distinct()
            .ToList();
        Assert.True(missing.Count == 0, "not in the scrape: " + string.Join("; ", missing));
        // Every alert and every panel query names at least one metric of ours.
        Assert.All(alerts, a => Assert.NotEmpty(InPromQl(a.Value)));
        Assert.All(expressions, e => Assert.NotEmpty(InPromQl(e)));
    }
}
