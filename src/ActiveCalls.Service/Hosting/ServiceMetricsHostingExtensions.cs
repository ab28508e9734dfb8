using System.ComponentModel.DataAnnotations;
using ActiveCalls.Sip;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace ActiveCalls.Service.Hosting;

/// <summary>Section <c>ActiveCalls:Telemetry:Metrics</c>: the service's Prometheus scrape endpoint, an HTTP listener of
/// its own (the service serves no other HTTP).</summary>
public sealed class ServiceMetricsOptions
{
    public const string SectionName = "ActiveCalls:Telemetry:Metrics";

    /// <summary>Serve the metrics. Off by default: nothing is collected then.</summary>
    public bool Enabled { get; set; }

    /// <summary>The host name the listener binds: <c>localhost</c> (the default: loopback only), or <c>+</c> for every
    /// interface.</summary>
    [Required] public string Host { get; set; } = "localhost";

    /// <summary>The listener's port; nothing else is served there.</summary>
    [Range(1, 65535)] public int Port { get; set; } = 9465;

    /// <summary>Where Prometheus scrapes.</summary>
    [Required] public string Path { get; set; } = "/metrics";
}

public static class ServiceMetricsHostingExtensions
{
    /// <summary>Every meter the endpoint exports: the service's commands and publishes, the SIP stack, the XMPP library
    /// (its component streams' reconnects and dropped stanzas) and the runtime.</summary>
    public static readonly string[] Meters = [ServiceMetrics.MeterName, SipMetrics.MeterName, XmppMetrics.MeterName, "System.Runtime"];

    /// <summary>With <c>ActiveCalls:Telemetry:Metrics:Enabled</c>, collects <see cref="Meters"/> and serves them at
    /// <c>http://{Host}:{Port}{Path}</c>.</summary>
    public static IHostApplicationBuilder AddActiveCallsMetrics(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(ServiceMetricsOptions.SectionName).Get<ServiceMetricsOptions>() ?? new ServiceMetricsOptions();
        if (!options.Enabled) return builder;
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(Meters).AddPrometheusHttpListener(o =>
        {
            o.Host = options.Host;
            o.Port = options.Port;
            o.ScrapeEndpointPath = options.Path;
        }));
        return builder;
    }
}
