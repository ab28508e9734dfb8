using Gateway.Xmpp.Client;

namespace Gateway.Api.Xmpp;

/// <summary>
/// Starts the pool without holding up the host: the gateway answers (503, readiness unhealthy) while the XMPP server
/// is unreachable, and keeps trying with jittered back-off. Faults retrying cannot fix (bad credentials) stop the
/// attempts and stay visible in <c>/health/ready</c>.
/// </summary>
internal sealed class XmppPoolHostedService(IXmppPool pool, ILogger<XmppPoolHostedService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await pool.StartAsync(stoppingToken);
                logger.LogInformation("XMPP pool started: {State}", pool.Describe());
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (pool is XmppPool real && real.IsFatal(e))
            {
                logger.LogCritical("XMPP pool cannot start and will not retry: {Reason}. Fix Gateway:Xmpp and restart.", e.Message);
                return;
            }
            catch (Exception e)
            {
                var delay = backoff.Next();
                logger.LogWarning("XMPP pool could not connect ({Reason}); retrying in {Delay}", e.Message, delay);
                try { await Task.Delay(delay, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await pool.StopAsync(cancellationToken);
    }
}
