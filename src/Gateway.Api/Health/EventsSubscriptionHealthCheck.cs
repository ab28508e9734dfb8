using System.Globalization;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Api.Health;

/// <summary>Readiness of the call events: healthy when the PubSub subscription is active and every followed user is
/// authorised (or the feature is off), degraded otherwise: commands still work, but call states (of the users whose
/// authorisation failed, or all) are not updated from events. The description names each followed user's state (on a
/// replica that does not hold the subscription: as the holder reported it, and which replica that is).</summary>
internal sealed class EventsSubscriptionHealthCheck(ActiveCallsSubscriptionManager manager, FollowedUsers followed, IReplicaLeadership leadership) : IHealthCheck
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
        var users = followed.Statuses;
        var refused = users.Where(u => u.LastError is not null).ToList();
        var team = "; followed users" + AuthorisedBy() + ": " + string.Join(", ", users.Select(Describe));
        return Task.FromResult(s.State switch
        {
            EventsState.Disabled => HealthCheckResult.Healthy("call events are off (no followed user in Gateway:Events)", data),
            // Events still reach this replica, through the shared log, from the replica that holds the subscription.
            EventsState.Standby => HealthCheckResult.Healthy($"replica {leadership.LeaderId ?? "(being elected)"} holds the subscription; this one stands by" + team, data),
            EventsState.Active when refused.Count == 0 => HealthCheckResult.Healthy($"subscribed to {s.Node} as {s.Receiver} until {s.ExpiresAt:O}" + team, data),
            EventsState.Active => HealthCheckResult.Degraded(
                $"subscribed to {s.Node} as {s.Receiver} until {s.ExpiresAt:O}, but {refused.Count} followed user(s) not authorised" + team, data: data),
            _ => HealthCheckResult.Degraded(
                $"call events subscription not active ({s.State})" + (s.LastError is { } e ? $"; last error: {e}" : "") + team, data: data),
        });
    }

    /// <summary>Only the subscription holder authorises: elsewhere the statuses are the holder's, as it reported them.</summary>
    private string AuthorisedBy() => leadership switch
    {
        { IsLeader: true } => "",
        { LeaderId: { } holder } => $" (as replica {holder} authorised them)",
        _ => " (as last reported; no replica holds the subscription)",
    };

    private static string Describe(FollowedUserStatus user) => user switch
    {
        { LastError: { } error } => $"{user.Address} (not authorised: {error})",
        { AuthorizedUntil: { } until } => $"{user.Address} (authorised until {until.ToString("O", CultureInfo.InvariantCulture)}, covering {string.Join(" ", user.Covers)})",
        _ => $"{user.Address} (not authorised yet)",
    };
}
