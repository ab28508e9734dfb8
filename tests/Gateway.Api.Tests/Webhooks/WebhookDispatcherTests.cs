using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Store;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// The dispatcher on a <see cref="FakeTimeProvider"/> with a real SQLite file and scripted endpoints: the retry schedule,
/// ordering per subscription, isolation between subscriptions, 410, Retry-After, attempt timeouts, retention and restarts.
/// Time only moves when a test moves it, so every attempt's time is exact.
/// </summary>
public sealed class WebhookDispatcherTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(T0);
    private readonly TempSqliteFile _database = new("webhook-dispatcher");
    private readonly ScriptedEndpoints _endpoints;
    private readonly WebhookOptions _options;
    private readonly List<(SqliteWebhookStore Store, WebhookDispatcher Dispatcher)> _started = [];
    private readonly IMeterFactory _meters = TestMeters.NewFactory();
    private SqliteWebhookStore _store = null!;
    private WebhookDispatcher _dispatcher = null!;

    public WebhookDispatcherTests()
    {
        _endpoints = new ScriptedEndpoints(_time);
        _options = new WebhookOptions
        {
            DatabasePath = _database.Path,
            RetryJitter = 0,
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (store, dispatcher) in _started)
        {
            await dispatcher.StopAsync(CancellationToken.None);
            dispatcher.Dispose();
            store.Dispose();
        }
        _database.Dispose();
    }

    private async Task StartAsync()
    {
        _store = new SqliteWebhookStore(Options.Create(_options), _time, NullLogger<SqliteWebhookStore>.Instance);
        _dispatcher = new WebhookDispatcher(_store, new FakeLeadership(leader: true), new ClientFactory(_endpoints), new WebhookRetryPolicy(_options.RetryDelays, 0, new Random(1)),
            Options.Create(_options), _time, NullLogger<WebhookDispatcher>.Instance, TestMeters.Webhooks(_store, _time, _meters));
        _started.Add((_store, _dispatcher));
        await _dispatcher.StartAsync(Ct);
    }

    private async Task StopAsync()
    {
        await _dispatcher.StopAsync(Ct);
        _started.RemoveAt(_started.Count - 1);
        _dispatcher.Dispose();
        _store.Dispose();
    }

    private Task<StoredSubscription> SubscribeAsync(string url) =>
        _store.CreateSubscriptionAsync("key", url, null, null, null, WebhookSignature.NewKey(), Ct);

    private static CallEvent Event(string callId, long sequence) => new()
    {
        Id = $"{callId}.{sequence}",
        Type = "call.connected",
        Sequence = sequence,
        OccurredAt = T0,
        Call = new CallResource { Id = callId, State = CallState.Connected, CreatedAt = T0, UpdatedAt = T0, Legs = [] },
    };

    private long _logPosition;

    /// <summary>Enqueues events whose bodies are "{subscription}:{n}", in the order given, and wakes the dispatcher.</summary>
    private async Task EnqueueAsync(params (StoredSubscription Subscription, int N)[] deliveries)
    {
        await _store.EnqueueAsync([.. deliveries.Select(d => new NewDelivery(d.Subscription.Id, Event("call" + d.N, d.N), $"{d.Subscription.Url}:{d.N}"))],
            new CallLogHead("0a1b2c3d4e", ++_logPosition), Ct);
        _dispatcher.Wake();
    }

    private async Task<WebhookDelivery> OnlyDeliveryAsync(StoredSubscription subscription) =>
        Assert.Single((await _store.ListDeliveriesAsync(subscription.Id, null, 0, 100, Ct)).Items);

    private Task<IReadOnlyList<ScriptedEndpoints.Received>> RequestsAsync(int count, string? url = null) =>
        EventuallyAsync(() => Task.FromResult(_endpoints.To(url)), r => r.Count >= count, $"{count} requests{(url is null ? "" : " to " + url)}");

    [Fact]
    public async Task AFailingDeliveryIsRetriedOnTheScheduleAndFailsAfterTheEighthAttempt()
    {
        await StartAsync();
        _endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var subscription = await SubscribeAsync("https://a.example/hook");
        await EnqueueAsync((subscription, 1));

        var expected = new List<DateTimeOffset> { T0 };
        await RequestsAsync(1);
        foreach (var delay in _options.RetryDelays)
        {
            var attempts = expected.Count;
            var pending = await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.Attempts == attempts, $"{attempts} attempts recorded");
            Assert.Equal(DeliveryState.Pending, pending.State);
            Assert.Equal(503, pending.LastStatusCode);
            Assert.Equal(expected[^1] + delay, pending.NextAttemptAt);

            _time.SetUtcNow(pending.NextAttemptAt!.Value);
            expected.Add(pending.NextAttemptAt.Value);
            await RequestsAsync(expected.Count);
        }

        var failed = await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.State != DeliveryState.Pending, "failed");
        Assert.Equal(DeliveryState.Failed, failed.State);
        Assert.Equal(8, failed.Attempts);
        Assert.Null(failed.NextAttemptAt);
        Assert.Equal("HTTP 503", failed.LastError);
        Assert.Equal(expected, _endpoints.To(null).Select(r => r.At));
        Assert.Equal(T0 + TimeSpan.Parse("1.03:35:05", System.Globalization.CultureInfo.InvariantCulture), expected[^1]);
        // Every attempt carries the same webhook-id and body.
        Assert.Single(_endpoints.To(null).Select(r => (r.MessageId, r.Body)).Distinct());

        _time.Advance(TimeSpan.FromDays(3));
        await Task.Delay(200, Ct);
        Assert.Equal(8, _endpoints.To(null).Count);
    }

    [Fact]
    public async Task ASubscriptionsDeliveriesGoOutInOrderAndAFailingEndpointHoldsUpOnlyItsOwnQueue()
    {
        await StartAsync();
        var failing = true;
        _endpoints.Answer = (request, _) => Task.FromResult(new HttpResponseMessage(
            failing && request.RequestUri!.Host == "down.example" ? HttpStatusCode.InternalServerError : HttpStatusCode.OK));
        var down = await SubscribeAsync("https://down.example/hook");
        var up = await SubscribeAsync("https://up.example/hook");

        await EnqueueAsync((down, 1), (up, 1), (down, 2), (up, 2), (down, 3), (up, 3));

        var toUp = await RequestsAsync(3, up.Url);
        Assert.Equal(["https://up.example/hook:1", "https://up.example/hook:2", "https://up.example/hook:3"], toUp.Select(r => r.Body));
        // The failing endpoint got its first event only: the others wait behind it.
        var log = await EventuallyAsync(async () => (await _store.ListDeliveriesAsync(down.Id, null, 0, 10, Ct)).Items,
            items => items[^1].Attempts == 1, "the first attempt recorded");
        Assert.Equal(["https://down.example/hook:1"], _endpoints.To(down.Url).Select(r => r.Body));
        Assert.Equal([DeliveryState.Pending, DeliveryState.Pending, DeliveryState.Pending], log.Select(d => d.State));
        Assert.Equal([0, 0, 1], log.Select(d => d.Attempts));

        failing = false;
        _time.Advance(TimeSpan.FromSeconds(5));

        var toDown = await RequestsAsync(4, down.Url);
        Assert.Equal(["https://down.example/hook:1", "https://down.example/hook:1", "https://down.example/hook:2", "https://down.example/hook:3"],
            toDown.Select(r => r.Body));
    }

    [Fact]
    public async Task GoneDisablesTheSubscriptionAndFailsItsPendingDeliveries()
    {
        await StartAsync();
        _endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Gone));
        var subscription = await SubscribeAsync("https://gone.example/hook");

        await EnqueueAsync((subscription, 1), (subscription, 2), (subscription, 3));

        var log = await EventuallyAsync(async () => (await _store.ListDeliveriesAsync(subscription.Id, null, 0, 10, Ct)).Items,
            items => items.All(d => d.State == DeliveryState.Failed), "all failed");
        Assert.Single(_endpoints.To(null));
        Assert.Equal("HTTP 410 Gone: the endpoint wants no more webhooks", log[^1].LastError);
        Assert.Equal("not sent: the subscription was disabled (the endpoint answered 410 Gone)", log[0].LastError);
        var disabled = (await _store.ListSubscriptionsAsync("key", Ct)).Single();
        Assert.Equal(WebhookState.Disabled, disabled.State);
        Assert.Equal("the endpoint answered 410 Gone", disabled.DisabledReason);

        await EnqueueAsync((subscription, 4));
        _time.Advance(TimeSpan.FromHours(1));
        await Task.Delay(200, Ct);
        Assert.Single(_endpoints.To(null));
    }

    [Fact]
    public async Task ALongerRetryAfterPostponesTheNextAttempt()
    {
        await StartAsync();
        _endpoints.Answer = (_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(120));
            return Task.FromResult(response);
        };
        var subscription = await SubscribeAsync("https://busy.example/hook");

        await EnqueueAsync((subscription, 1));

        var pending = await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.Attempts == 1, "one attempt");
        Assert.Equal(T0.AddSeconds(120), pending.NextAttemptAt);
        Assert.Equal(429, pending.LastStatusCode);
    }

    [Fact]
    public async Task AttemptsAreCountedByOutcomeFailuresByReasonAndTheBacklogIsThePendingDeliveries()
    {
        using var attempts = new MetricCollector<long>(_meters, WebhookMetrics.MeterName, "gateway.webhook.attempts");
        using var failures = new MetricCollector<long>(_meters, WebhookMetrics.MeterName, "gateway.webhook.failures");
        using var backlog = new MetricCollector<long>(_meters, WebhookMetrics.MeterName, "gateway.webhook.pending");
        await StartAsync();
        var answers = 0;
        _endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(
            Interlocked.Increment(ref answers) == 1 ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.NoContent));
        var subscription = await SubscribeAsync("https://a.example/hook");
        await EnqueueAsync((subscription, 1));

        var retrying = await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.Attempts == 1, "the first attempt recorded");
        await EventuallyAsync(() => BacklogAsync(backlog), pending => pending == 1, "a backlog of one delivery");
        _time.SetUtcNow(retrying.NextAttemptAt!.Value);
        await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.State == DeliveryState.Succeeded, "delivered");
        await EventuallyAsync(() => BacklogAsync(backlog), pending => pending == 0, "no backlog");

        Assert.Equal(["retrying", "delivered"], attempts.GetMeasurementSnapshot().Select(m => (string?)m.Tags["outcome"]));
        Assert.Equal("http_5xx", Assert.Single(failures.GetMeasurementSnapshot()).Tags["reason"]);
    }

    /// <summary>The backlog gauge as a scrape reads it (each scrape reports what the previous one started reading).</summary>
    private static Task<long?> BacklogAsync(MetricCollector<long> backlog)
    {
        backlog.RecordObservableInstruments();
        return Task.FromResult(backlog.LastMeasurement?.Value);
    }

    [Fact]
    public async Task AnAttemptWithoutAnAnswerTimesOutAndIsRetried()
    {
        using var failures = new MetricCollector<long>(_meters, WebhookMetrics.MeterName, "gateway.webhook.failures");
        await StartAsync();
        _endpoints.Answer = ScriptedEndpoints.NeverAnswer;
        var subscription = await SubscribeAsync("https://slow.example/hook");
        await EnqueueAsync((subscription, 1));
        await RequestsAsync(1);

        _time.Advance(_options.AttemptTimeout);

        var pending = await EventuallyAsync(() => OnlyDeliveryAsync(subscription), d => d.Attempts == 1, "the timeout recorded");
        Assert.Equal("no response within 15 s", pending.LastError);
        Assert.Equal("timeout", Assert.Single(failures.GetMeasurementSnapshot()).Tags["reason"]);
        Assert.Null(pending.LastStatusCode);
        Assert.Equal(T0 + _options.AttemptTimeout + TimeSpan.FromSeconds(5), pending.NextAttemptAt);
    }

    [Fact]
    public async Task AnAttemptCutShortByAStopIsNotCountedAndTheNextDispatcherOnTheSameFileSendsIt()
    {
        await StartAsync();
        _endpoints.Answer = ScriptedEndpoints.NeverAnswer;
        var subscription = await SubscribeAsync("https://restart.example/hook");
        await EnqueueAsync((subscription, 1), (subscription, 2));
        await RequestsAsync(1);

        await StopAsync();

        _endpoints.Answer = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        await StartAsync();
        var log = await EventuallyAsync(async () => (await _store.ListDeliveriesAsync(subscription.Id, null, 0, 10, Ct)).Items,
            items => items.All(d => d.State == DeliveryState.Succeeded), "both delivered");
        Assert.Equal([1, 1], log.Select(d => d.Attempts));
        Assert.Equal(["https://restart.example/hook:1", "https://restart.example/hook:1", "https://restart.example/hook:2"], _endpoints.To(null).Select(r => r.Body));
    }

    [Fact]
    public async Task FinishedDeliveriesLeaveTheLogAfterTheRetentionAndPendingOnesStay()
    {
        _options.DeliveryRetention = TimeSpan.FromHours(1);
        await StartAsync();
        _endpoints.Answer = (request, _) => Task.FromResult(new HttpResponseMessage(request.RequestUri!.Host == "ok.example" ? HttpStatusCode.OK : HttpStatusCode.BadGateway));
        var ok = await SubscribeAsync("https://ok.example/hook");
        var failing = await SubscribeAsync("https://failing.example/hook");
        await EnqueueAsync((ok, 1), (failing, 1));
        await EventuallyAsync(() => OnlyDeliveryAsync(ok), d => d.State == DeliveryState.Succeeded, "delivered");
        await EventuallyAsync(() => OnlyDeliveryAsync(failing), d => d.Attempts == 1, "attempted");

        _time.Advance(TimeSpan.FromMinutes(59));
        await Task.Delay(200, Ct);
        Assert.Single((await _store.ListDeliveriesAsync(ok.Id, null, 0, 10, Ct)).Items);

        _time.Advance(TimeSpan.FromMinutes(30));
        await EventuallyAsync(async () => (await _store.ListDeliveriesAsync(ok.Id, null, 0, 10, Ct)).Items, items => items.Count == 0, "purged");
        Assert.Equal(DeliveryState.Pending, (await OnlyDeliveryAsync(failing)).State);
    }
}
