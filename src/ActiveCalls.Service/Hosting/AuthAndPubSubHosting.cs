using ActiveCalls.Service.Auth;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ActiveCalls.Service.Hosting;

public static class AuthAndPubSubHosting
{
    /// <summary>
    /// Registers the Auth component (<c>commands.auth.{Domain}</c>) and the Active-Calls PubSub service
    /// (<c>pubsub.active-calls.{Domain}</c>) with what they share: the users file, the authorisation store, the node store,
    /// and <see cref="ActiveCallsPublisher"/> as the SIP engine's <see cref="ICallLegObserver"/>. A hosted service connects
    /// both components to the XMPP server and keeps them connected.
    /// </summary>
    public static IServiceCollection AddAuthAndPubSub(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value;
            var root = sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory;
            return UserDirectory.Load(Path.GetFullPath(options.UsersFile, root));
        });
        services.TryAddSingleton<AuthorizationStore>();
        services.TryAddSingleton<IAuthorizationStore>(sp => sp.GetRequiredService<AuthorizationStore>());
        services.TryAddSingleton(sp => new AuthComponent(sp.GetRequiredService<UserDirectory>(), sp.GetRequiredService<IAuthorizationStore>(),
            sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<AuthComponent>>()));
        services.TryAddSingleton<ActiveCallsNodeStore>();
        services.TryAddSingleton(sp => new ActiveCallsPubSubComponent(sp.GetRequiredService<ActiveCallsNodeStore>(),
            sp.GetRequiredService<IAuthorizationStore>(), sp.GetRequiredService<IOptions<ActiveCallsServiceOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<ActiveCallsPubSubComponent>>()));
        services.TryAddSingleton<ActiveCallsPublisher>();
        services.TryAddSingleton<ICallLegObserver>(sp => sp.GetRequiredService<ActiveCallsPublisher>());
        services.AddHostedService<AuthAndPubSubComponentsHost>();
        return services;
    }
}

/// <summary>Connects the Auth and PubSub components to the XMPP server as XEP-0114 components, retrying until the server is
/// there, and lets the library's supervisor keep them connected. State (grants, subscriptions, items) lives in the
/// singletons, not in the streams, so it outlasts every reconnection.</summary>
internal sealed class AuthAndPubSubComponentsHost(
    IOptions<ActiveCallsServiceOptions> options,
    AuthComponent auth,
    ActiveCallsPubSubComponent pubSub,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly List<IAsyncDisposable> _streams = [];
    private readonly List<IDisposable> _attachments = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var authStream = Create(settings, settings.AuthJid);
        var pubSubStream = Create(settings, settings.PubSubJid);
        _attachments.Add(auth.Attach(authStream));
        _attachments.Add(pubSub.Attach(pubSubStream));
        await Task.WhenAll(StartAsync(authStream, stoppingToken), StartAsync(pubSubStream, stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var attachment in _attachments) attachment.Dispose();
        foreach (var stream in _streams) await stream.DisposeAsync();
    }

    private XmppComponent Create(ActiveCallsServiceOptions settings, Jid jid)
    {
        var stream = new XmppComponent(new XmppComponentOptions
        {
            ComponentJid = jid,
            Secret = settings.ComponentSecret,
            Host = settings.XmppHost,
            Port = settings.ComponentPort,
        }, loggerFactory.CreateLogger<XmppComponent>());
        _streams.Add(stream);
        return stream;
    }

    private async Task StartAsync(XmppComponent stream, CancellationToken stoppingToken)
    {
        var logger = loggerFactory.CreateLogger<AuthAndPubSubComponentsHost>();
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await stream.StartAsync(stoppingToken);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stream.IsFatal(e))
            {
                logger.LogWarning("Component {Jid} could not connect ({Reason}); retrying in {Delay}", stream.ComponentJid, e.Message, delay);
                await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
            }
            catch (Exception e)
            {
                logger.LogCritical(e, "Component {Jid} was refused by the XMPP server (check ComponentSecret and the server's component entry)", stream.ComponentJid);
                return;
            }
        }
    }
}
