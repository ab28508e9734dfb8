using Gateway.Api.Webhooks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Api.Health;

/// <summary>Readiness of webhooks: healthy while call events are stored and the queue can be read; degraded when events
/// wait in memory because the store fails (calls and the rest of the API still work).</summary>
internal sealed class WebhooksHealthCheck(WebhookEventWriter writer, IWebhookStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["database"] = store.Location, ["eventsWaiting"] = writer.Waiting };
        if (writer.LastError is { } error)
            return HealthCheckResult.Degraded($"call events are not being stored for webhooks ({writer.Waiting} waiting in memory): {error}", data: data);
        try
        {
            var (pending, oldest) = await store.PendingSummaryAsync(cancellationToken);
            data["pendingDeliveries"] = pending;
            if (oldest is { } since) data["oldestPendingSince"] = since;
            return HealthCheckResult.Healthy($"{pending} webhook deliveries pending", data);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Degraded($"the webhook store cannot be read: {e.Message}", e, data);
        }
    }
}
