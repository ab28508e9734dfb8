using System.Reflection;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Commands;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.Store;
using Gateway.Api.Commands;
using Gateway.Api.Configuration;
using Gateway.Api.Dashboard;
using Gateway.Api.Errors;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.CallEventsSubscription.Store;
using Gateway.Api.Health;
using Gateway.Api.Idempotency;
using Gateway.Api.Json;
using Gateway.Api.OpenApi;
using Gateway.Api.Replicas;
using Gateway.Api.Streaming;
using Gateway.Api.Webhooks;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace Gateway.Api.Hosting;

public static class GatewayHostingExtensions
{
    /// <summary>True while the app is started only to generate its OpenAPI document at build time
    /// (Microsoft.Extensions.ApiDescription.Server): nothing may connect to XMPP then.</summary>
    public static bool IsOpenApiGeneration(this IHostEnvironment _) =>
        Assembly.GetEntryAssembly()?.GetName().Name == "GetDocument.Insider";

    /// <summary>Everything the gateway needs: options validated at start-up, the XMPP pool, commands, call state,
    /// auth, limits, idempotency, problem details, health checks and OpenAPI.</summary>
    public static IHostApplicationBuilder AddGatewayApi(this IHostApplicationBuilder builder)
    {
        builder.AddGatewayOptions();
        builder.AddGatewayTracing();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.AddReplicas();
        builder.AddXmppPool();
        builder.Services.AddActiveCallsCommands();
        builder.AddCalls();
        builder.AddCallEvents();
        builder.AddWebhooks();
        builder.AddCallStreaming();
        builder.AddGatewayMetrics();
        builder.Services.AddApiKeyAuthentication();
        builder.Services.AddPerKeyLimits();
        builder.Services.AddIdempotency();
        builder.Services.AddGatewayProblemDetails();
        builder.Services.AddHealthChecks().AddCheck<XmppPoolHealthCheck>("xmpp-pool", tags: ["ready"])
            .AddCheck<EventsSubscriptionHealthCheck>("call-events", tags: ["ready"])
            .AddCheck<WebhooksHealthCheck>("webhooks", tags: ["ready"])
            .AddCheck<ReplicaHealthCheck>("replica", tags: ["ready"]);
        builder.Services.AddOpenApi(OpenApiTransformers.DocumentName, o => o.AddGatewayTransformers().AddWebhookDescription());
        // Request bodies are read by JsonBody<T> with these options: unknown and duplicate members are refused.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.ApplyClientRules());
        // Binding failures (malformed JSON, a member given twice) become exceptions, so they get the same problem+json.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return builder;
    }

    public static IHostApplicationBuilder AddGatewayOptions(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        Bind<XmppOptions>(XmppOptions.SectionName)
            // A relative certificate path is relative to the content root (src/Gateway.Api when run from the repository).
            .PostConfigure(o =>
            {
                if (!string.IsNullOrEmpty(o.TrustedCertificatePath) && !Path.IsPathRooted(o.TrustedCertificatePath))
                    o.TrustedCertificatePath = Path.GetFullPath(Path.Combine(builder.Environment.ContentRootPath, o.TrustedCertificatePath));
            })
            .Services.AddSingleton<IValidateOptions<XmppOptions>, XmppOptionsValidator>();
        Bind<ComponentsOptions>(ComponentsOptions.SectionName).Services.AddSingleton<IValidateOptions<ComponentsOptions>, ComponentsOptionsValidator>();
        Bind<HttpApiOptions>(HttpApiOptions.SectionName).Services.AddSingleton<IValidateOptions<HttpApiOptions>, HttpApiOptionsValidator>();
        Bind<IdempotencyOptions>(IdempotencyOptions.SectionName).Services.AddSingleton<IValidateOptions<IdempotencyOptions>, IdempotencyOptionsValidator>();
        Bind<ResilienceOptions>(ResilienceOptions.SectionName).Services.AddSingleton<IValidateOptions<ResilienceOptions>, ResilienceOptionsValidator>();
        Bind<CallsOptions>(CallsOptions.SectionName).Services.AddSingleton<IValidateOptions<CallsOptions>, CallsOptionsValidator>();
        Bind<EventsOptions>(EventsOptions.SectionName).Services.AddSingleton<IValidateOptions<EventsOptions>, EventsOptionsValidator>();
        Bind<StreamingOptions>(StreamingOptions.SectionName).Services.AddSingleton<IValidateOptions<StreamingOptions>, StreamingOptionsValidator>();
        Bind<ApiKeysOptions>(ApiKeysOptions.SectionName).Services.AddSingleton<IValidateOptions<ApiKeysOptions>, ApiKeysOptionsValidator>();
        Bind<WebhookOptions>(WebhookOptions.SectionName)
            .PostConfigure(o =>
            {
                if (!string.IsNullOrEmpty(o.DatabasePath) && !Path.IsPathRooted(o.DatabasePath))
                    o.DatabasePath = Path.GetFullPath(Path.Combine(builder.Environment.ContentRootPath, o.DatabasePath));
            })
            .Services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        services.AddOptions<CallsOptions>().PostConfigure(o =>
        {
            if (!string.IsNullOrEmpty(o.DatabasePath) && !Path.IsPathRooted(o.DatabasePath))
                o.DatabasePath = Path.GetFullPath(Path.Combine(builder.Environment.ContentRootPath, o.DatabasePath));
        });
        Bind<RedisOptions>(RedisOptions.SectionName).Services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>();
        Bind<DashboardOptions>(DashboardOptions.SectionName).Services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>();
        return builder;

        OptionsBuilder<T> Bind<T>(string section) where T : class
        {
            var options = services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations();
            // Build-time OpenAPI generation starts the host without any deployment configuration.
            return builder.Environment.IsOpenApiGeneration() ? options : options.ValidateOnStart();
        }
    }

    /// <summary>The pool is a singleton and its starter a hosted service; tests replace <see cref="IXmppPool"/>.</summary>
    public static IHostApplicationBuilder AddXmppPool(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IXmppPool, XmppPool>();
        // Avoid opening XMPP connections when the app is only started to write its OpenAPI document at build time.
        if (!builder.Environment.IsOpenApiGeneration()) builder.Services.AddHostedService<XmppPoolHostedService>();
        return builder;
    }

    /// <summary>The PubSub subscription feeding the call tracker (a no-op unless Gateway:Events is configured), and the
    /// followed users it authorises: the configured ones and those added through the API, stored with the calls (SQLite:
    /// web passwords protected with Data Protection keys kept in the data folder's <c>keys/</c>; Memory: in memory;
    /// Redis: shared by the replicas with one key ring on Redis, and kept in step by <see cref="FollowedUsersReplication"/>).</summary>
    public static IHostApplicationBuilder AddCallEvents(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddDataProtection().SetApplicationName("active-calls-gateway");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<CallsOptions>, ILoggerFactory, RedisConnection>((o, calls, logs, redis) =>
        {
            o.XmlRepository = calls.Value.Store switch
            {
                CallStoreKind.Sqlite => new FileSystemXmlRepository(new DirectoryInfo(KeysFolder(calls.Value)), logs),
                // Data Protection reads its key ring synchronously; the Redis store awaits the connection before it protects
                // or unprotects anything, so this finds it made instead of waiting for it.
                CallStoreKind.Redis => new RedisXmlRepository(() => redis.DatabaseAsync().GetAwaiter().GetResult(), redis.Key("dataprotection-keys")),
                _ => o.XmlRepository,
            };
        });
        services.AddSingleton<IFollowedUserStore>(sp => sp.GetRequiredService<IOptions<CallsOptions>>().Value.Store switch
        {
            CallStoreKind.Memory => new InMemoryFollowedUserStore(),
            CallStoreKind.Redis => ActivatorUtilities.CreateInstance<RedisFollowedUserStore>(sp),
            _ => ActivatorUtilities.CreateInstance<SqliteFollowedUserStore>(sp),
        });
        services.AddSingleton<FollowedUsers>();
        services.AddSingleton<RedisFollowedUserStatusBoard>();
        services.AddSingleton<FollowedUsersReplication>();
        services.AddSingleton<ActiveCallsSubscriptionManager>();
        if (!builder.Environment.IsOpenApiGeneration())
        {
            // In this order: the stored users are loaded before the subscription starts.
            services.AddHostedService(sp => sp.GetRequiredService<FollowedUsers>());
            services.AddSingleton<IHostedService>(sp => ReplicaHostingExtensions.IsShared(sp) ? sp.GetRequiredService<FollowedUsersReplication>() : new ReplicaHostingExtensions.NoHostedService());
            services.AddHostedService(sp => sp.GetRequiredService<ActiveCallsSubscriptionManager>());
        }
        return builder;
    }

    /// <summary>The Data Protection key ring: <c>keys/</c> beside the calls database, on the same volume.</summary>
    private static string KeysFolder(CallsOptions calls) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(calls.DatabasePath)) ?? ".", "keys");

    /// <summary>Webhooks: the store (in Redis with the Redis call store, so every replica serves the same subscriptions and
    /// the leader's queue survives it; else the SQLite file), the lossless event writer, the dispatcher and its HTTP client
    /// (the connect-time target guard as primary handler; the dispatcher logs each attempt itself).</summary>
    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<IWebhookStore>(sp => ReplicaHostingExtensions.IsShared(sp)
            ? ActivatorUtilities.CreateInstance<RedisWebhookStore>(sp)
            : ActivatorUtilities.CreateInstance<SqliteWebhookStore>(sp));
        services.AddSingleton<WebhookTargetGuard>();
        services.AddSingleton<StatusCallbackRequests>();
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<WebhookOptions>>().Value;
            return new WebhookRetryPolicy(o.RetryDelays, o.RetryJitter, Random.Shared);
        });
        services.AddSingleton<WebhookDispatcher>();
        services.AddSingleton<WebhookEventWriter>();
        services.AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<WebhookEventWriter>());
        services.AddHttpClient(WebhookDispatcher.HttpClientName, client =>
            {
                client.Timeout = Timeout.InfiniteTimeSpan; // each attempt has its own deadline (Gateway:Webhooks:AttemptTimeout)
                client.DefaultRequestHeaders.UserAgent.ParseAdd("ActiveCallsGateway-Webhooks/1.0");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<WebhookTargetGuard>().CreateHandler())
            .RemoveAllLoggers();
        if (!builder.Environment.IsOpenApiGeneration())
        {
            services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        }
        return builder;
    }

    public static IServiceCollection AddActiveCallsCommands(this IServiceCollection services)
    {
        services.AddSingleton<IActiveCallsCommands, ActiveCallsCommands>();
        services.AddResiliencePipeline(ActiveCallsCommands.PipelineName, (pipeline, context) =>
        {
            var o = context.ServiceProvider.GetRequiredService<IOptions<ResilienceOptions>>().Value;
            // The breaker counts what says the component is not there or not answering; open, it fails fast (503).
            pipeline.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = o.BreakerFailureRatio,
                MinimumThroughput = o.BreakerMinimumThroughput,
                SamplingDuration = o.BreakerSamplingDuration,
                BreakDuration = o.BreakerBreakDuration,
                ShouldHandle = new PredicateBuilder()
                    .Handle<XmppIqTimeoutException>()
                    .Handle<XmppStanzaErrorException>(e => ComponentErrors.IsUnavailable(e.Error)),
            });
            // No retry here: the XMPP pool already moved a command that never reached a socket to another connection,
            // and one that may have been sent must not be sent again (it could place a second call).
        });
        return services;
    }

    /// <summary>Call state: the store chosen by <c>Gateway:Calls:Store</c> (SQLite by default; Redis for replicas), the
    /// tracker (this process's writer, started before anything feeds it), the event publisher and its consumers, and the command workflows with
    /// their intent runner.</summary>
    public static IHostApplicationBuilder AddCalls(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<InMemoryCallStore>();
        services.AddSingleton<SqliteCallStore>();
        services.AddSingleton<RedisCallStore>();
        services.AddSingleton<ICallStore>(sp => sp.GetRequiredService<IOptions<CallsOptions>>().Value.Store switch
        {
            CallStoreKind.Memory => sp.GetRequiredService<InMemoryCallStore>(),
            CallStoreKind.Redis => sp.GetRequiredService<RedisCallStore>(),
            _ => sp.GetRequiredService<SqliteCallStore>(),
        });
        services.AddSingleton<PublishedHead>();
        services.AddSingleton<CallEventPublisher>();
        services.AddSingleton<CallTracker>();
        services.AddSingleton<ICommandIntentClaims>(sp => ReplicaHostingExtensions.IsShared(sp)
            ? ActivatorUtilities.CreateInstance<RedisIntentClaims>(sp)
            : new LocalIntentClaims());
        services.AddSingleton<CommandIntentRunner>();
        services.AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<CommandIntentRunner>());
        services.AddSingleton<CallCommandService>();
        if (!builder.Environment.IsOpenApiGeneration())
        {
            // First of the hosted services: the store is open and the consumers started before anything feeds the tracker.
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<CallTracker>()));
            services.AddHostedService(sp => sp.GetRequiredService<CommandIntentRunner>());
            services.AddHostedService<CallDatabaseCheckpointer>();
        }
        return builder;
    }

    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication(ApiKeyDefaults.Scheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyDefaults.Scheme, null);
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, AddressScopeHandler>();
        services.AddHostedService<ApiKeyDestinationsReport>();
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyDefaults.Policy, p => p.AddAuthenticationSchemes(ApiKeyDefaults.Scheme).RequireAuthenticatedUser().RequireClaim(ApiKeyDefaults.KeyNameClaim))
            .AddPolicy(AddressScopeRequirement.Policy, p => p.AddAuthenticationSchemes(ApiKeyDefaults.Scheme).AddRequirements(new AddressScopeRequirement()));
        return services;
    }

    /// <summary>Idempotency-Key outcomes live with the calls: in the calls database with the SQLite store (so a retry
    /// after a restart replays the first answer), in memory with the memory store, in Redis with the Redis store (so every
    /// replica sees every key).</summary>
    public static IServiceCollection AddIdempotency(this IServiceCollection services)
    {
        services.AddSingleton<InMemoryIdempotencyStore>();
        services.AddSingleton<SqliteIdempotencyStore>();
        services.AddSingleton<RedisIdempotencyStore>();
        services.AddSingleton<IIdempotencyStore>(sp => sp.GetRequiredService<IOptions<CallsOptions>>().Value.Store switch
        {
            CallStoreKind.Memory => sp.GetRequiredService<InMemoryIdempotencyStore>(),
            CallStoreKind.Redis => sp.GetRequiredService<RedisIdempotencyStore>(),
            _ => sp.GetRequiredService<SqliteIdempotencyStore>(),
        });
        return services;
    }

    public static IServiceCollection AddGatewayProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.Complete);
        services.AddSingleton<IProblemDetailsWriter, AnyAcceptProblemDetailsWriter>();
        services.AddExceptionHandler<GatewayExceptionHandler>();
        return services;
    }

    /// <summary>The middleware, in order: problems for everything, the dashboard's default document, routing, timeouts,
    /// auth, per-key limits, body cap, idempotency; then Swagger UI.</summary>
    public static WebApplication UseGatewayApi(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // Component refusals and bad input are outcomes, not crashes: GatewayExceptionHandler logs them at the right level.
            SuppressDiagnosticsCallback = c => c.Exception is CommandFailedException or BadHttpRequestException,
        });
        app.UseStatusCodePages();
        app.UseDashboard();
        app.UseRouting();
        app.UseRequestTimeouts();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseMiddleware<IdempotencyMiddleware>();
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint($"/openapi/{OpenApiTransformers.DocumentName}.json", "Active-Calls Gateway v1");
            o.RoutePrefix = "swagger";
            o.DocumentTitle = "Active-Calls Gateway";
        });
        return app;
    }

    /// <summary>The endpoints: the calls and webhooks APIs, the dashboard, the call stream, health (live / ready) and the
    /// OpenAPI document (JSON and YAML).</summary>
    public static WebApplication MapGatewayEndpoints(this WebApplication app)
    {
        app.MapCallsApi();
        app.MapWebhooksApi();
        app.MapStatusCallbacksApi();
        app.MapFollowedUsersApi();
        app.MapDashboardApi();
        app.MapCallStreaming();
        app.MapGatewayMetrics();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapOpenApi("/openapi/{documentName}.yaml");
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealthAsync });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealthAsync });
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }
}
