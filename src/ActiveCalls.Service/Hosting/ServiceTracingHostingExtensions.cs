using ActiveCalls.Sip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ActiveCalls.Service.Hosting;

/// <summary>Where spans go: nowhere (the default), the console or an OTLP collector.</summary>
public enum TraceExporter { None, Console, Otlp }

/// <summary>Console logs as text, or one JSON object a line with the scopes (trace and span ids) as members.</summary>
public enum LogFormat { Text, Json }

/// <summary><c>ActiveCalls:Telemetry:Traces</c>.</summary>
public sealed class TracesOptions
{
    public const string SectionName = "ActiveCalls:Telemetry:Traces";

    public TraceExporter Exporter { get; set; } = TraceExporter.None;

    /// <summary>The OTLP (gRPC) collector; the exporter's default when not set.</summary>
    public Uri? OtlpEndpoint { get; set; }
}

/// <summary><c>ActiveCalls:Telemetry:Logs</c>.</summary>
public sealed class LogsOptions
{
    public const string SectionName = "ActiveCalls:Telemetry:Logs";

    public LogFormat Format { get; set; } = LogFormat.Text;
}

/// <summary>The reference service's traces (<see cref="ServiceTracing"/>, <see cref="SipTracing"/>) and log format, by configuration.</summary>
public static class ServiceTracingHostingExtensions
{
    public const string ServiceName = "active-calls-service";

    public static IHostApplicationBuilder AddServiceTracing(this IHostApplicationBuilder builder)
    {
        var traces = builder.Configuration.GetSection(TracesOptions.SectionName).Get<TracesOptions>() ?? new TracesOptions();
        if (traces.Exporter != TraceExporter.None)
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService(ServiceName))
                .WithTracing(tracing =>
                {
                    tracing.AddSource(ServiceTracing.SourceName, SipTracing.SourceName);
                    if (traces.Exporter == TraceExporter.Console) tracing.AddConsoleExporter();
                    else tracing.AddOtlpExporter(o =>
                    {
                        if (traces.OtlpEndpoint is not null) o.Endpoint = traces.OtlpEndpoint;
                        o.Protocol = OtlpExportProtocol.Grpc;
                    });
                });
        }
        var logs = builder.Configuration.GetSection(LogsOptions.SectionName).Get<LogsOptions>() ?? new LogsOptions();
        if (logs.Format == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
            builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        }
        return builder;
    }
}
