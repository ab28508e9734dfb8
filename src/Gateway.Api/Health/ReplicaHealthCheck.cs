using Gateway.Api.Calls;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.Health;

/// <summary>Readiness of this replica's share: which replica holds the subscription (this one or which other) and, with
/// the Redis store, whether Redis answers. A replica without Redis is not ready: it could neither read nor write calls.</summary>
internal sealed class ReplicaHealthCheck(IReplicaLeadership leadership, IOptions<CallsOptions> calls, RedisConnection redis, CallTracker tracker) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["replica"] = leadership.ReplicaId,
            ["subscriptionHolder"] = leadership.LeaderId ?? "",
            ["holdsSubscription"] = leadership.IsLeader,
        };
        var holder = leadership.IsLeader ? "this replica holds the subscription"
            : leadership.LeaderId is { } other ? $"replica {other} holds the subscription"
            : "no replica holds the subscription yet";
        if (calls.Value.Store != CallStoreKind.Redis)
            return HealthCheckResult.Healthy($"replica {leadership.ReplicaId}, alone ({calls.Value.Store} store); {holder}", data);
        try
        {
            var db = await redis.DatabaseAsync();
            var latency = await db.PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            data["redisLatencyMs"] = Math.Round(latency.TotalMilliseconds, 2);
            if (!tracker.Started.IsCompletedSuccessfully)
                return HealthCheckResult.Unhealthy($"replica {leadership.ReplicaId}: the shared call store is not open yet; {holder}", data: data);
            return HealthCheckResult.Healthy($"replica {leadership.ReplicaId} on Redis; {holder}", data);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"replica {leadership.ReplicaId}: Redis does not answer ({e.Message}); {holder}", data: data);
        }
    }
}
