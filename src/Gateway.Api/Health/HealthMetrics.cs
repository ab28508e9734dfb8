using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Api.Health;

/// <summary>
/// The <c>Gateway.Health</c> meter: <c>gateway.health.status</c> is each readiness check's last result, tagged
/// <c>check</c> (xmpp-pool, call-events, webhooks, replica): 2 healthy, 1 degraded, 0 unhealthy, the values of
/// <see cref="HealthStatus"/>. The health check service publishes here in the background (every
/// <see cref="HealthCheckPublisherOptions.Period"/>), so a scrape runs no check.
/// </summary>
public sealed class HealthMetrics : IHealthCheckPublisher
{
    public const string MeterName = "Gateway.Health";

    private readonly ConcurrentDictionary<string, HealthStatus> _statuses = new(StringComparer.Ordinal);

    public HealthMetrics(IMeterFactory meterFactory) =>
        meterFactory.Create(MeterName).CreateObservableGauge("gateway.health.status",
            () => _statuses.Select(s => new Measurement<int>((int)s.Value, new KeyValuePair<string, object?>("check", s.Key))),
            "1", "Readiness checks: 2 healthy, 1 degraded, 0 unhealthy.");

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        foreach (var (check, entry) in report.Entries) _statuses[check] = entry.Status;
        return Task.CompletedTask;
    }
}
