using Gateway.Api.Auth;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Calls.Events;
using Gateway.Api.Commands;
using Gateway.Api.Streaming;
using Gateway.Api.Webhooks;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.Core;
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
        CommandMetrics.MeterName, CallMetrics.MeterName, CallEventsMetrics.MeterName, WebhookMetrics.MeterName, CallStreamMetrics.MeterName,
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
                // Its instruments only observe: made now, so they exist before the first scrape.
                sp.GetRequiredService<CallEventsMetrics>();
            });
        });
        return builder;
    }

    /// <summary>The scrape endpoint, when enabled: behind the API key policy, or answering only on its own port.</summary>
    public static WebApplication MapGatewayMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.Enabled) return app;
        if (options.Port is not { } port)
        {
            app.MapPrometheusScrapingEndpoint(options.Path).RequireAuthorization(Policy);
            return app;
        }
        app.MapPrometheusScrapingEndpoint(options.Path, meterProvider: null, configureBranchedPipeline: branch => branch.Use((context, next) =>
        {
            if (context.Connection.LocalPort == port) return next(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }), optionsName: null);
        return app;
    }
}
