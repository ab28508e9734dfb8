using Gateway.Api.Xmpp;
using Gateway.Xmpp.Pool;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Api.Health;

/// <summary>Readiness: healthy when every pooled connection is up, degraded when some are, unhealthy when none is.</summary>
internal sealed class XmppPoolHealthCheck(IXmppPool pool) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(pool.Health switch
        {
            PoolHealth.Healthy => HealthCheckResult.Healthy(pool.Describe()),
            PoolHealth.Degraded => HealthCheckResult.Degraded(pool.Describe()),
            _ => HealthCheckResult.Unhealthy(pool.Describe()),
        });
}
