using System.Diagnostics.Metrics;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>
/// The <c>Gateway.Events</c> meter, read from what the subscription manager and the followed users already keep:
/// <c>gateway.events.subscription.state</c> is 1 for the state the PubSub subscription is in and 0 for the others (a fixed
/// set of seven), <c>gateway.events.followed_users</c> counts the followed users by <c>state</c> (<c>authorized</c>,
/// <c>refused</c>, <c>pending</c>: three series however large the team), and <c>gateway.events.items</c> counts the PubSub
/// notifications applied to the calls, by <c>kind</c> (<c>publish</c>, <c>retract</c>).
/// </summary>
public sealed class CallEventsMetrics
{
    public const string MeterName = "Gateway.Events";

    private static readonly EventsState[] States = Enum.GetValues<EventsState>();

    public CallEventsMetrics(IMeterFactory meterFactory, ActiveCallsSubscriptionManager manager, FollowedUsers followed)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("gateway.events.subscription.state", () =>
        {
            var current = manager.Status.State;
            return States.Select(s => new Measurement<int>(s == current ? 1 : 0, new KeyValuePair<string, object?>("state", s.ToString().ToLowerInvariant())));
        }, "{subscription}", "The call events PubSub subscription: 1 for its current state, 0 for the others.");
        meter.CreateObservableGauge<int>("gateway.events.followed_users", () =>
        {
            var users = followed.Statuses;
            return
            [
                Users("authorized", users.Count(u => u.IsAuthorized)),
                Users("refused", users.Count(u => !u.IsAuthorized && u.LastError is not null)),
                Users("pending", users.Count(u => !u.IsAuthorized && u.LastError is null)),
            ];
        }, "{user}", "Followed SIP users, by the state of their authorize-plain.");
        meter.CreateObservableCounter<long>("gateway.events.items", () =>
        {
            var status = manager.Status;
            return
            [
                new Measurement<long>(status.ItemsApplied, new KeyValuePair<string, object?>("kind", "publish")),
                new Measurement<long>(status.RetractsApplied, new KeyValuePair<string, object?>("kind", "retract")),
            ];
        }, "{item}", "PubSub notifications (items and retracts) applied to the calls.");
    }

    private static Measurement<int> Users(string state, int count) => new(count, new KeyValuePair<string, object?>("state", state));
}
