using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gateway.Api.Calls.Store;
using Gateway.Api.Hosting;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Sends the queued deliveries (at least once). Each subscription's deliveries go out one at a time in queue order: only
/// the head of its queue is attempted, and the next one waits until the head succeeded or finally failed; different
/// subscriptions proceed in parallel (up to <see cref="WebhookOptions.MaxConcurrentDeliveries"/>), so a failing
/// endpoint holds up only its own queue. Failures are retried on <see cref="WebhookRetryPolicy"/>'s schedule, kept in
/// the store, so a restart resumes where it stopped. 2xx is success; 410 Gone disables the subscription; redirects are
/// not followed. Polly is not used: its retries live in memory, these must survive restarts over hours.
/// Among replicas only the leader sends (<see cref="IReplicaLeadership"/>): the queue and its retry times are in the
/// shared store, so the next leader picks up where a dead one stopped. An attempt in flight when the lease is lost is
/// let finish; one cut short by a crash is sent again by the next leader (receivers drop repeats by webhook-id).
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    public const string HttpClientName = "webhooks";
    /// <summary>How the error of an attempt without a response begins, by cause (<see cref="WebhookMetrics"/> counts them).</summary>
    internal const string TimeoutPrefix = "no response within ", RefusedPrefix = "refused: ";

    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(5);
    private readonly IWebhookStore _store;
    private readonly IReplicaLeadership _leadership;
    private readonly IHttpClientFactory _http;
    private readonly WebhookRetryPolicy _retry;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly WebhookMetrics _metrics;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Where an attempt's span finds its call's trace (none: the span starts a trace of its own).</summary>
    private readonly ICallStore? _calls;

    public WebhookDispatcher(IWebhookStore store, IReplicaLeadership leadership, IHttpClientFactory http, WebhookRetryPolicy retry, IOptions<WebhookOptions> options,
        TimeProvider time, ILogger<WebhookDispatcher> logger, WebhookMetrics metrics, ICallStore? calls = null)
    {
        _metrics = metrics;
        _calls = calls;
        _store = store;
        _leadership = leadership;
        _http = http;
        _retry = retry;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Something was enqueued or rescheduled: look at the queue now rather than at the next due time.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Opens and migrates the store first, so a database that cannot be opened stops the gateway at start-up.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await _store.InitializeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                var term = await _leadership.WhenLeaderAsync(stoppingToken);
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
                await SendWhileLeadingAsync(leading.Token, stoppingToken);
                _logger.LogInformation("This replica no longer leads: it stops sending webhooks");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Attempts cut short by the shutdown leave their deliveries pending: they go out again after the restart.
            await Task.WhenAll(_inFlight.Values);
        }
    }

    /// <summary>Sends until <paramref name="leading"/> is cancelled. Attempts run on <paramref name="stoppingToken"/>
    /// alone: one in flight when the lease is lost finishes and is recorded rather than be sent twice.</summary>
    private async Task SendWhileLeadingAsync(CancellationToken leading, CancellationToken stoppingToken)
    {
        var purgeInterval = _options.DeliveryRetention < TimeSpan.FromHours(4) ? _options.DeliveryRetention / 4 : TimeSpan.FromHours(1);
        var nextPurge = _time.GetUtcNow();
        var failures = 0;
        try
        {
            while (true)
            {
                TimeSpan wait;
                try
                {
                    var now = _time.GetUtcNow();
                    if (now >= nextPurge)
                    {
                        var purged = await _store.PurgeCompletedAsync(now - _options.DeliveryRetention, leading);
                        if (purged > 0) _logger.LogInformation("Removed {Count} finished webhook deliveries older than {Retention}", purged, _options.DeliveryRetention);
                        nextPurge = now + purgeInterval;
                    }
                    wait = await StartDueAttemptsAsync(leading, stoppingToken);
                    var untilPurge = nextPurge - _time.GetUtcNow();
                    if (wait == Timeout.InfiniteTimeSpan || untilPurge < wait) wait = untilPurge < TimeSpan.Zero ? TimeSpan.Zero : untilPurge;
                    if (_store.PollInterval is { } poll && poll < wait) wait = poll;
                    failures = 0;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failures++;
                    wait = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures)));
                    _logger.LogError(e, "The webhook queue could not be read; trying again in {Delay}", wait);
                }
                await WaitAsync(wait, leading);
            }
        }
        catch (OperationCanceledException) when (leading.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Starts an attempt for every due queue head whose subscription has none in flight; returns how long until
    /// the next head is due (infinite when none is waiting on time).</summary>
    private async Task<TimeSpan> StartDueAttemptsAsync(CancellationToken leading, CancellationToken stoppingToken)
    {
        foreach (var (subscription, task) in _inFlight)
            if (task.IsCompleted) _inFlight.TryRemove(subscription, out _);

        var heads = await _store.QueueHeadsAsync(leading);
        var now = _time.GetUtcNow();
        var wait = Timeout.InfiniteTimeSpan;
        foreach (var head in heads)
        {
            if (_inFlight.ContainsKey(head.SubscriptionId)) continue; // its completion wakes the loop
            if (head.NextAttemptAt > now)
            {
                var until = head.NextAttemptAt - now;
                if (wait == Timeout.InfiniteTimeSpan || until < wait) wait = until;
                continue;
            }
            if (_inFlight.Count >= _options.MaxConcurrentDeliveries) continue;
            // The lease may have gone while the heads were read: the next leader sends them.
            if (leading.IsCancellationRequested) break;
            var attempt = AttemptAsync(head, stoppingToken);
            _inFlight[head.SubscriptionId] = attempt;
            // Woken only once the task is complete, so the loop sees it completed and moves that queue on.
            _ = attempt.ContinueWith(static (_, state) => ((WebhookDispatcher)state!).Wake(), this,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return wait;
    }

    private async Task WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (_wake.Reader.TryRead(out _) || wait == TimeSpan.Zero) return;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var woken = _wake.Reader.WaitToReadAsync(stop.Token).AsTask();
        var elapsed = wait == Timeout.InfiniteTimeSpan ? Task.Delay(Timeout.Infinite, stop.Token) : Task.Delay(wait, _time, stop.Token);
        await Task.WhenAny(woken, elapsed);
        await stop.CancelAsync();
        _wake.Reader.TryRead(out _);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task AttemptAsync(QueuedDelivery delivery, CancellationToken stoppingToken)
    {
        using var span = await StartSpanAsync(delivery);
        try
        {
            var at = _time.GetUtcNow();
            var (status, error, retryAfter) = await SendAsync(delivery, at, stoppingToken);
            var record = Decide(delivery, at, status, error, retryAfter);
            if (span is { IsAllDataRequested: true })
            {
                span.SetTag("http.response.status_code", status);
                span.SetTag("webhook.delivery.state", record.State.ToString().ToLowerInvariant());
                if (record.State != DeliveryState.Succeeded) span.SetStatus(ActivityStatusCode.Error, error);
            }
            _metrics.AttemptFinished(status, record.Error, record.State);
            if (!await _store.RecordAttemptAsync(record, CancellationToken.None)) return;
            switch (record.State)
            {
                case DeliveryState.Succeeded:
                    _logger.LogDebug("Webhook {DeliveryId} ({EventType}) delivered to {Url}: {Status}", delivery.Id, delivery.EventType, delivery.Url, status);
                    break;
                case DeliveryState.Pending:
                    _logger.LogInformation("Webhook {DeliveryId} to {Url} failed (attempt {Attempt}): {Error}; next attempt at {Next:O}",
                        delivery.Id, delivery.Url, delivery.Attempts + 1, record.Error, record.NextAttemptAt);
                    break;
                default:
                    _logger.LogWarning("Webhook {DeliveryId} to {Url} failed for good after {Attempts} attempts: {Error}{Disabled}",
                        delivery.Id, delivery.Url, delivery.Attempts + 1, record.Error,
                        record.DisableReason is { } reason ? $"; subscription {delivery.SubscriptionId} disabled ({reason})" : "");
                    break;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Not recorded: the delivery stays pending and is attempted again after the restart.
        }
        catch (Exception e)
        {
            // The outcome could not be stored, so the delivery is still due: hold its queue a moment rather than resend at once.
            _logger.LogError(e, "The outcome of webhook {DeliveryId} could not be stored; it will be attempted again", delivery.Id);
            try
            {
                await Task.Delay(StoreRetryDelay, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>One attempt's span, in the trace of the event's call (<see cref="GatewayTracing"/>); null when nobody listens.</summary>
    private async Task<Activity?> StartSpanAsync(QueuedDelivery delivery)
    {
        if (!GatewayTracing.Source.HasListeners()) return null;
        var (callId, traceParent) = await CallTraceAsync(delivery);
        var span = GatewayTracing.StartCallSpan("webhook.deliver", ActivityKind.Client, callId, traceParent);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("webhook.delivery.id", delivery.Id);
            span.SetTag("webhook.subscription.id", delivery.SubscriptionId);
            span.SetTag("webhook.event.type", delivery.EventType);
            span.SetTag("webhook.attempt", delivery.Attempts + 1);
            span.SetTag("server.address", Uri.TryCreate(delivery.Url, UriKind.Absolute, out var url) ? url.Host : null);
        }
        return span;
    }

    /// <summary>The call the payload names (<c>data.call.id</c>) and its trace. Tracing never holds a delivery up: when the
    /// payload or the call store cannot tell, the attempt's span starts a trace of its own.</summary>
    private async Task<(string CallId, string? TraceParent)> CallTraceAsync(QueuedDelivery delivery)
    {
        var callId = "";
        try
        {
            if (JsonNode.Parse(delivery.Payload)?["data"]?["call"]?["id"] is JsonValue id && id.TryGetValue<string>(out var value)) callId = value;
            if (callId.Length == 0 || _calls is null) return (callId, null);
            return (callId, (await _calls.GetAsync(callId, CancellationToken.None))?.TraceParent);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "Webhook {DeliveryId}: the call's trace could not be read; its span starts a trace of its own", delivery.Id);
            return (callId, null);
        }
    }

    private async Task<(int? Status, string? Error, TimeSpan? RetryAfter)> SendAsync(QueuedDelivery delivery, DateTimeOffset at, CancellationToken stoppingToken)
    {
        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        var timestamp = at.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation("webhook-id", delivery.MessageId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSignature.Header(delivery.Key, delivery.PreviousKey, delivery.MessageId, timestamp, body));

        using var timeout = new CancellationTokenSource(_options.AttemptTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            using var response = await _http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            return ((int)response.StatusCode, null, RetryAfter(response.Headers.RetryAfter, at));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return (null, $"{TimeoutPrefix}{_options.AttemptTimeout.TotalSeconds:0.#} s", null);
        }
        catch (HttpRequestException e)
        {
            return (null, e.InnerException is WebhookTargetRefusedException refused ? RefusedPrefix + refused.Message : e.Message, null);
        }
    }

    private AttemptRecord Decide(QueuedDelivery delivery, DateTimeOffset at, int? status, string? error, TimeSpan? retryAfter)
    {
        if (status is >= 200 and < 300) return new AttemptRecord(delivery.Id, at, status, null, DeliveryState.Succeeded, null, null);
        error ??= status switch
        {
            410 => "HTTP 410 Gone: the endpoint wants no more webhooks",
            >= 300 and < 400 => $"HTTP {status}: redirects are not followed; register the final URL",
            _ => $"HTTP {status}",
        };
        if (status == 410) return new AttemptRecord(delivery.Id, at, status, error, DeliveryState.Failed, null, "the endpoint answered 410 Gone");
        // Counted from the end of the attempt, so a slow failure does not eat into the wait.
        return _retry.DelayAfter(delivery.Attempts + 1, retryAfter) is { } delay
            ? new AttemptRecord(delivery.Id, at, status, error, DeliveryState.Pending, _time.GetUtcNow() + delay, null)
            : new AttemptRecord(delivery.Id, at, status, error, DeliveryState.Failed, null, null);
    }

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } when date > now => date - now,
        _ => null,
    };
}
