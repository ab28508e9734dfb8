using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Commands;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Storage;
using ActiveCalls.Sip;
using ActiveCalls.Sip.CallControl;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ActiveCalls.Service.Hosting;

public static class ActiveCallsServiceExtensions
{
    /// <summary>Registers the reference Active-Calls service: options validated at start-up, the three components, the
    /// hosted service that connects them, and the SIP third-party call control engine (section <c>Sip</c>).</summary>
    public static IHostApplicationBuilder AddActiveCallsService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ActiveCallsServiceOptions>()
            .Bind(builder.Configuration.GetSection(ActiveCallsServiceOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.AddServiceTracing();
        builder.Services.AddActiveCallsComponents();
        builder.Services.AddSipCallControl(builder.Configuration.GetSection(SipOptions.SectionName));
        builder.AddActiveCallsMetrics();
        return builder;
    }

    /// <summary>The SIP engine as <see cref="ICallControlEngine"/>, reporting legs to the registered <see cref="ICallLegObserver"/>.
    /// It binds its UDP socket when first resolved, which the components host does at start-up.</summary>
    public static IServiceCollection AddSipCallControl(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<SipOptions>().Bind(section).ValidateOnStart();
        // The options say themselves what is wrong (the port, Sip:SessionTimers): every problem is reported at start.
        services.AddSingleton<IValidateOptions<SipOptions>, SipOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ThirdPartyCallControlEngine(sp.GetRequiredService<IOptions<SipOptions>>().Value,
            sp.GetRequiredService<ICallLegObserver>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(),
            sp.GetService<ICallJournal>()));
        services.TryAddSingleton<ICallControlEngine>(sp => sp.GetRequiredService<ThirdPartyCallControlEngine>());
        return services;
    }

    /// <summary>
    /// The components and what they share: the users file, the authorisation store, the node store, the command
    /// component, <see cref="ActiveCallsPublisher"/> as the engine's <see cref="ICallLegObserver"/>, and the database
    /// (<c>ActiveCalls:Storage:DatabasePath</c>) that keeps the calls, items, subscriptions and grants across a crash.
    /// </summary>
    public static IServiceCollection AddActiveCallsComponents(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value;
            var root = sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory;
            return UserDirectory.Load(Path.GetFullPath(options.UsersFile, root));
        });
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value;
            var root = sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory;
            return new ServiceDatabase(Path.GetFullPath(options.Storage.DatabasePath, root), sp.GetService<ILogger<ServiceDatabase>>());
        });
        services.TryAddSingleton<IItemStore>(sp => new SqliteItemStore(sp.GetRequiredService<ServiceDatabase>()));
        services.TryAddSingleton<ISubscriptionStore>(sp => new SqliteSubscriptionStore(sp.GetRequiredService<ServiceDatabase>()));
        services.TryAddSingleton<IGrantStore>(sp => new SqliteGrantStore(sp.GetRequiredService<ServiceDatabase>()));
        services.TryAddSingleton(sp => new SqliteCallJournal(sp.GetRequiredService<ServiceDatabase>()));
        services.TryAddSingleton<ICallJournal>(sp => sp.GetRequiredService<SqliteCallJournal>());
        services.TryAddSingleton<AuthorizationStore>();
        services.TryAddSingleton<IAuthorizationStore>(sp => sp.GetRequiredService<AuthorizationStore>());
        services.TryAddSingleton(sp => new AuthComponent(sp.GetRequiredService<UserDirectory>(), sp.GetRequiredService<IAuthorizationStore>(),
            sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<AuthComponent>>()));
        services.TryAddSingleton<ActiveCallsNodeStore>();
        services.TryAddSingleton(sp => new ActiveCallsPubSubComponent(sp.GetRequiredService<ActiveCallsNodeStore>(),
            sp.GetRequiredService<IAuthorizationStore>(), sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<ActiveCallsPubSubComponent>>(), sp.GetService<ISubscriptionStore>()));
        services.TryAddSingleton<ActiveCallsPublisher>();
        services.TryAddSingleton<ICallLegObserver>(sp => sp.GetRequiredService<ActiveCallsPublisher>());
        services.TryAddSingleton<ActiveCallsCommandComponent>();
        services.TryAddSingleton<ServiceRecovery>();
        services.AddHostedService<ActiveCallsComponentsHost>();
        return services;
    }
}

internal sealed class SipOptionsValidator : IValidateOptions<SipOptions>
{
    public ValidateOptionsResult Validate(string? name, SipOptions options) =>
        options.Validate() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
