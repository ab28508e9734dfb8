using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Commands;
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

/// <summary>Connects the command, Auth and PubSub components to the XMPP server as XEP-0114 components, retrying until the
/// server is there, and lets the library's supervisor keep them connected. State (sessions, grants, subscriptions, items,
/// calls) lives in singletons, not in the streams, so it outlasts every reconnection.</summary>
internal sealed class ActiveCallsComponentsHost(
    IOptions<ActiveCallsServiceOptions> options,
    ActiveCallsCommandComponent commands,
    AuthComponent auth,
    ActiveCallsPubSubComponent pubSub,
    ServiceRecovery recovery,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly List<XmppComponent> _streams = [];
    private readonly List<IDisposable> _attachments = [];

    /// <summary>The component streams, once started (commands, Auth, PubSub).</summary>
    internal IReadOnlyList<XmppComponent> Streams => _streams;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var commandsStream = Create(settings, settings.CommandsJid);
        var authStream = Create(settings, settings.AuthJid);
        var pubSubStream = Create(settings, settings.PubSubJid);
        _attachments.Add(commands.Attach(commandsStream));
        _attachments.Add(auth.Attach(authStream));
        _attachments.Add(pubSub.Attach(pubSubStream));
        // What a crash left behind: its calls are hung up at once; its items are retracted once PubSub is connected, so
        // that the subscribers (the gateway) are notified.
        var endingCalls = recovery.EndCallsAsync(stoppingToken);
        await Task.WhenAll(StartAsync(commandsStream, stoppingToken), StartAsync(authStream, stoppingToken), StartPubSubAsync(pubSubStream, stoppingToken));
        await endingCalls;
    }

    private async Task StartPubSubAsync(XmppComponent stream, CancellationToken stoppingToken)
    {
        await StartAsync(stream, stoppingToken);
        if (!stoppingToken.IsCancellationRequested) await recovery.RetractItemsAsync(stoppingToken);
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
            Limits = settings.Limits,
        }, loggerFactory.CreateLogger<XmppComponent>());
        _streams.Add(stream);
        return stream;
    }

    private async Task StartAsync(XmppComponent stream, CancellationToken stoppingToken)
    {
        var logger = loggerFactory.CreateLogger<ActiveCallsComponentsHost>();
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
