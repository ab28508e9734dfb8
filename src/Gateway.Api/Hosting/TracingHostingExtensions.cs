using Gateway.Xmpp.Tracing;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Gateway.Api.Hosting;

/// <summary>Where spans go: nowhere (the default, and no listener: the instrumented code allocates nothing for spans), the
/// console (development) or an OTLP collector.</summary>
public enum TraceExporter { None, Console, Otlp }

/// <summary>How log lines are written to the console: text, or one JSON object a line with the scopes (the trace and span
/// ids of the current span, the call's id) as members.</summary>
public enum LogFormat { Text, Json }

/// <summary><c>Gateway:Telemetry:Traces</c>.</summary>
public sealed class TracesOptions
{
    public const string SectionName = "Gateway:Telemetry:Traces";

    public TraceExporter Exporter { get; set; } = TraceExporter.None;

    /// <summary>The collector for <see cref="TraceExporter.Otlp"/> (gRPC, e.g. <c>http://otel-collector:4317</c>); the
    /// exporter's default (<c>http://localhost:4317</c>, or <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) when not set.</summary>
    public Uri? OtlpEndpoint { get; set; }
}

/// <summary><c>Gateway:Telemetry:Logs</c>.</summary>
public sealed class LogsOptions
{
    public const string SectionName = "Gateway:Telemetry:Logs";

    public LogFormat Format { get; set; } = LogFormat.Text;
}

/// <summary>Traces (OpenTelemetry) and the console log format, by configuration. Metrics are wired elsewhere.</summary>
public static class TracingHostingExtensions
{
    public const string ServiceName = "active-calls-gateway";

    /// <summary>With an exporter: the gateway's spans (<see cref="GatewayTracing"/>), the XMPP library's command spans
    /// (<see cref="XmppTracing"/>) and ASP.NET Core's request spans (health probes left out), sent to that exporter. With
    /// <see cref="LogFormat.Json"/>: JSON console logs carrying the current trace and span ids and the logging scopes.</summary>
    public static IHostApplicationBuilder AddGatewayTracing(this IHostApplicationBuilder builder)
    {
        var traces = builder.Configuration.GetSection(TracesOptions.SectionName).Get<TracesOptions>() ?? new TracesOptions();
        if (traces.Exporter != TraceExporter.None)
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService(ServiceName))
                .WithTracing(tracing =>
                {
                    tracing.AddSource(GatewayTracing.SourceName, XmppTracing.SourceName)
                        .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health"));
                    tracing.AddTraceExporter(traces.Exporter, traces.OtlpEndpoint);
                });
        }
        var logs = builder.Configuration.GetSection(LogsOptions.SectionName).Get<LogsOptions>() ?? new LogsOptions();
        builder.Logging.UseLogFormat(logs.Format);
        return builder;
    }

    /// <summary>Adds the chosen exporter (none for <see cref="TraceExporter.None"/>).</summary>
    public static TracerProviderBuilder AddTraceExporter(this TracerProviderBuilder tracing, TraceExporter exporter, Uri? otlpEndpoint) => exporter switch
    {
        TraceExporter.Console => tracing.AddConsoleExporter(),
        TraceExporter.Otlp => tracing.AddOtlpExporter(o =>
        {
            if (otlpEndpoint is not null) o.Endpoint = otlpEndpoint;
            o.Protocol = OtlpExportProtocol.Grpc;
        }),
        _ => tracing,
    };

    /// <summary><see cref="LogFormat.Json"/>: the console's JSON formatter, one line per entry, with the scopes (the current
    /// span's <c>TraceId</c>, <c>SpanId</c> and <c>ParentId</c>; <c>CallId</c> around a call's work) under <c>Scopes</c>.</summary>
    public static ILoggingBuilder UseLogFormat(this ILoggingBuilder logging, LogFormat format)
    {
        if (format != LogFormat.Json) return logging;
        logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
        });
        logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        return logging;
    }
}
