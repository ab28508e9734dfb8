using System.ComponentModel.DataAnnotations;

namespace Gateway.Api.Hosting;

/// <summary><c>Gateway:Telemetry:Metrics</c>: the Prometheus scrape endpoint.</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "Gateway:Telemetry:Metrics";

    /// <summary>Serve the metrics at <see cref="Path"/>. Off by default: nothing is collected then.</summary>
    public bool Enabled { get; set; }

    /// <summary>Where Prometheus scrapes.</summary>
    [RegularExpression("^/[A-Za-z0-9/_.-]*$", ErrorMessage = "Gateway:Telemetry:Metrics:Path must be an absolute path such as /metrics.")]
    public string Path { get; set; } = "/metrics";

    /// <summary>Null (the default): the endpoint is on the API's listeners and wants an API key with the <c>metrics</c>
    /// scope (or <c>*</c>). A port: the endpoint answers only requests that arrived on that local port, without a key (keep
    /// the port off the public network); the gateway must listen there too (<c>ASPNETCORE_URLS</c> or
    /// <c>Kestrel:Endpoints</c>), and every other port answers the path with 404.</summary>
    [Range(1, 65535)] public int? Port { get; set; }
}
