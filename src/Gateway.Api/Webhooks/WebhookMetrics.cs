using System.Diagnostics.Metrics;

namespace Gateway.Api.Webhooks;

/// <summary>
/// The <c>Gateway.Webhooks</c> meter: every delivery attempt by <c>outcome</c> (<c>delivered</c>, <c>retrying</c>,
/// <c>failed</c> for good), the failed attempts by <c>reason</c> (<c>timeout</c>, <c>network</c>, <c>refused</c> by the
/// target guard, <c>http_3xx</c>, <c>http_4xx</c>, <c>http_5xx</c>), and the backlog: deliveries pending in the store and
/// the age of the oldest. The backlog is the store's count as of the previous scrape: each scrape answers at once with
/// it and starts one query for the next, so a slow store never holds a scrape up.
/// </summary>
public sealed class WebhookMetrics
{
    public const string MeterName = "Gateway.Webhooks";

    private const long NoneMs = long.MinValue;

    private readonly Counter<long> _attempts;
    private readonly Counter<long> _failures;
    private readonly IWebhookStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookMetrics> _logger;
    private long _pending;
    private long _oldestPendingMs = NoneMs;
    private int _refreshing;

    public WebhookMetrics(IMeterFactory meterFactory, IWebhookStore store, TimeProvider time, ILogger<WebhookMetrics> logger)
    {
        _store = store;
        _time = time;
        _logger = logger;
        var meter = meterFactory.Create(MeterName);
        _attempts = meter.CreateCounter<long>("gateway.webhook.attempts", "{attempt}", "Webhook delivery attempts, by outcome.");
        _failures = meter.CreateCounter<long>("gateway.webhook.failures", "{attempt}", "Failed webhook delivery attempts, by reason.");
        meter.CreateObservableGauge("gateway.webhook.pending", ObservePending, "{delivery}", "Webhook deliveries waiting to be delivered (all subscriptions).");
        meter.CreateObservableGauge("gateway.webhook.oldest_pending.age", ObserveOldestAge, "s", "Age of the oldest pending webhook delivery (0 when none).");
    }

    /// <summary>Records one attempt: <paramref name="status"/> is the HTTP status (null when none came back),
    /// <paramref name="error"/> what went wrong, <paramref name="state"/> the delivery's state after it.</summary>
    public void AttemptFinished(int? status, string? error, DeliveryState state)
    {
        _attempts.Add(1, new KeyValuePair<string, object?>("outcome", state switch
        {
            DeliveryState.Succeeded => "delivered",
            DeliveryState.Pending => "retrying",
            _ => "failed",
        }));
        if (state == DeliveryState.Succeeded) return;
        _failures.Add(1, new KeyValuePair<string, object?>("reason", ReasonOf(status, error)));
    }

    internal static string ReasonOf(int? status, string? error) => status switch
    {
        >= 300 and < 400 => "http_3xx",
        >= 400 and < 500 => "http_4xx",
        >= 500 => "http_5xx",
        _ when error?.StartsWith(WebhookDispatcher.RefusedPrefix, StringComparison.Ordinal) == true => "refused",
        _ when error?.StartsWith(WebhookDispatcher.TimeoutPrefix, StringComparison.Ordinal) == true => "timeout",
        _ => "network",
    };

    private long ObservePending()
    {
        Refresh();
        return Interlocked.Read(ref _pending);
    }

    private double ObserveOldestAge() => Interlocked.Read(ref _oldestPendingMs) is var oldest and not NoneMs
        ? Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0)
        : 0;

    /// <summary>One query at a time, in the background.</summary>
    private void Refresh()
    {
        if (Interlocked.Exchange(ref _refreshing, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                var (pending, oldest) = await _store.PendingSummaryAsync(CancellationToken.None);
                Interlocked.Exchange(ref _pending, pending);
                Interlocked.Exchange(ref _oldestPendingMs, oldest?.ToUnixTimeMilliseconds() ?? NoneMs);
            }
            catch (Exception e)
            {
                _logger.LogDebug(e, "Could not read the webhook backlog for the metrics");
            }
            finally
            {
                Volatile.Write(ref _refreshing, 0);
            }
        });
    }
}
