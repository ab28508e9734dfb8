using System.Diagnostics.Metrics;
using Gateway.Api.Auth;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Calls.Events;
using Gateway.Api.Commands;
using Gateway.Api.Health;
using Gateway.Api.Streaming;
using Gateway.Api.Webhooks;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Gateway.Api.Hosting;

/// <summary>
/// The gateway's instruments (each component's meter) and, with <c>Gateway:Telemetry:Metrics:Enabled</c>, their
/// OpenTelemetry collection and Prometheus scrape endpoint (<see cref="MetricsOptions"/>), together with ASP.NET Core's
/// own meters (<c>http.server.request.duration</c> by route and status, Kestrel, SignalR) and the runtime's.
/// </summary>
public static class MetricsHostingExtensions
{
    /// <summary>The authorisation policy of the endpoint when it is not on a port of its own.</summary>
    public const string Policy = "Metrics";

    /// <summary>Every meter the endpoint exports.</summary>
    public static readonly string[] Meters =
    [
        CommandMetrics.MeterName, CallMetrics.MeterName, HealthMetrics.MeterName, CallEventsMetrics.MeterName, WebhookMetrics.MeterName, CallStreamMetrics.MeterName,
        XmppPool.MeterName, XmppMetrics.MeterName,
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections", "System.Runtime",
    ];

    public static IHostApplicationBuilder AddGatewayMetrics(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var options = services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName).ValidateDataAnnotations();
        if (!builder.Environment.IsOpenApiGeneration()) options.ValidateOnStart();
        services.AddSingleton<CommandMetrics>();
        services.AddSingleton<CallMetrics>();
        services.AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<CallMetrics>());
        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton<CallEventsMetrics>();
        services.AddSingleton<HealthMetrics>();
        services.AddSingleton<IHealthCheckPublisher>(sp => sp.GetRequiredService<HealthMetrics>());
        services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Predicate = c => c.Tags.Contains("ready");
            o.Delay = TimeSpan.FromSeconds(2);
            o.Period = TimeSpan.FromSeconds(15);
        });
        services.AddAuthorizationBuilder().AddPolicy(Policy, p => p.AddAuthenticationSchemes(ApiKeyDefaults.Scheme)
            .RequireClaim(ApiKeyDefaults.ScopeClaim, ApiKeyDefaults.MetricsScope, "*"));
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddPrometheusExporter();
            // The settings are read once the configuration is complete (the host's, and a test's).
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, deferred) =>
            {
                if (!sp.GetRequiredService<IOptions<MetricsOptions>>().Value.Enabled) return;
                deferred.AddMeter(Meters);
                // Meters are matched by name in the whole process: where several hosts share one (tests, an application
                // embedding the gateway twice) each exports the meters made by its own factory, plus the static ones.
                var own = sp.GetRequiredService<IMeterFactory>();
                deferred.AddView(instrument => instrument.Meter.Scope is IMeterFactory factory && factory != own ? MetricStreamConfiguration.Drop : null);
                // Its instruments only observe: made now, so they exist before the first scrape.
                sp.GetRequiredService<CallEventsMetrics>();
                sp.GetRequiredService<HealthMetrics>();
            });
        });
        return builder;
    }

    /// <summary>The scrape endpoint, when enabled: behind the API key policy, or alone on its own port. Called after the
    /// middleware of <see cref="GatewayHostingExtensions.UseGatewayApi"/>, so the port filter runs just before the endpoints.</summary>
    public static WebApplication MapGatewayMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.Enabled) return app;
        if (options.Port is not { } port)
        {
            app.MapPrometheusScrapingEndpoint(options.Path).RequireAuthorization(Policy);
            return app;
        }
        // The metrics port serves the metrics alone, and the metrics are served on it alone (by the local port the request
        // came in on, not by its Host header, which the client chooses).
        app.Use((context, next) =>
        {
            var onMetricsPort = context.Connection.LocalPort == port;
            if (onMetricsPort == context.Request.Path.Equals(options.Path, StringComparison.Ordinal)) return next(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        app.MapPrometheusScrapingEndpoint(options.Path);
        return app;
    }
}
