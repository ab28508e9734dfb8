using Gateway.Api.CallEventsSubscription;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Api.Health;

/// <summary>Readiness of the call events: healthy when the PubSub subscription is active (or the feature is off),
/// degraded otherwise: commands still work, but call states are not updated from events.</summary>
internal sealed class EventsSubscriptionHealthCheck(ActiveCallsSubscriptionManager manager) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = manager.Status;
        var data = new Dictionary<string, object>
        {
            ["state"] = s.State.ToString(),
            ["itemsApplied"] = s.ItemsApplied,
            ["retractsApplied"] = s.RetractsApplied,
        };
        if (s.Receiver is not null) data["receiver"] = s.Receiver;
        if (s.ExpiresAt is { } expires) data["expiresAt"] = expires;
        return Task.FromResult(s.State switch
        {
            EventsState.Disabled => HealthCheckResult.Healthy("call events are off (Gateway:Events:SipAddress not set)", data),
            EventsState.Active => HealthCheckResult.Healthy($"subscribed to {s.Node} as {s.Receiver} until {s.ExpiresAt:O}", data),
            _ => HealthCheckResult.Degraded(
                $"call events subscription not active ({s.State})" + (s.LastError is { } e ? $"; last error: {e}" : ""), data: data),
        });
    }
}
