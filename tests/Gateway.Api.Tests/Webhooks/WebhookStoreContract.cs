using Gateway.Api.Calls.Store;
using Gateway.Api.Webhooks;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.Webhooks.WebhookTestEvents;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>
/// What every <see cref="IWebhookStore"/> does, run against each of them: subscriptions by owner, the FIFO queue per
/// subscription, attempts, disabling, re-delivery, the delivery log, retention, the checkpoint, and idempotent enqueue.
/// Time is a <see cref="FakeTimeProvider"/>, so every time stored is exact.
/// </summary>
public abstract class WebhookStoreContract : IAsyncLifetime
{
    private const string Epoch = "0a1b2c3d4e";

    private IWebhookStore _store = null!;
    private long _position;

    protected FakeTimeProvider Time { get; } = new(T0);

    /// <summary>A new, empty store on <see cref="Time"/>.</summary>
    protected abstract IWebhookStore CreateStore();

    public async ValueTask InitializeAsync()
    {
        _store = CreateStore();
        await _store.InitializeAsync(Ct);
    }

    public abstract ValueTask DisposeAsync();

    private Task<StoredSubscription> SubscribeAsync(string owner = "key", string url = "https://hooks.example/") =>
        _store.CreateSubscriptionAsync(owner, url, ["call.connected"], "bob@example.com", "for tests", WebhookSignature.NewKey(), Ct);

    /// <summary>Enqueues event <c>n</c> for each pair, in order, with the next checkpoint.</summary>
    private Task EnqueueAsync(params (StoredSubscription Subscription, int N)[] deliveries) =>
        _store.EnqueueAsync([.. deliveries.Select(d => new NewDelivery(d.Subscription.Id, Connected(d.N), $"body {d.N}"))], new CallLogHead(Epoch, ++_position), Ct);

    private async Task<IReadOnlyList<WebhookDelivery>> LogAsync(StoredSubscription subscription, DeliveryState? state = null) =>
        (await _store.ListDeliveriesAsync(subscription.Id, state, 0, 100, Ct)).Items;

    private async Task<QueuedDelivery> HeadAsync(StoredSubscription subscription) =>
        Assert.Single(await _store.QueueHeadsAsync(Ct), h => h.SubscriptionId == subscription.Id);

    private Task<bool> RecordAsync(QueuedDelivery head, DeliveryState state, int? status = 200, DateTimeOffset? next = null, string? disable = null) =>
        _store.RecordAttemptAsync(new AttemptRecord(head.Id, Time.GetUtcNow(), status, status is >= 200 and < 300 ? null : "HTTP " + status, state, next, disable), Ct);

    [Fact]
    public async Task SubscriptionsBelongToTheirOwnerAreListedOldestFirstAndDeletedWithTheirDeliveries()
    {
        var first = await SubscribeAsync();
        Time.Advance(TimeSpan.FromSeconds(1));
        var second = await SubscribeAsync(url: "https://hooks.example/2");
        var others = await SubscribeAsync("other");
        await EnqueueAsync((first, 1), (second, 1));

        Assert.Equal([first.Id, second.Id], (await _store.ListSubscriptionsAsync("key", Ct)).Select(s => s.Id));
        Assert.Equal(2, await _store.CountSubscriptionsAsync("key", Ct));
        var stored = await _store.GetSubscriptionAsync("key", first.Id, Ct);
        Assert.Equivalent(first, stored);
        Assert.Equal(T0, stored!.CreatedAt);
        Assert.Null(await _store.GetSubscriptionAsync("other", first.Id, Ct));
        Assert.False(await _store.DeleteSubscriptionAsync("other", first.Id, Ct));

        Assert.True(await _store.DeleteSubscriptionAsync("key", first.Id, Ct));

        Assert.Null(await _store.GetSubscriptionAsync("key", first.Id, Ct));
        Assert.Empty(await LogAsync(first));
        Assert.Equal([second.Id], (await _store.QueueHeadsAsync(Ct)).Select(h => h.SubscriptionId));
        Assert.Equal(new[] { others.Id, second.Id }.Order(), (await _store.EnabledSubscriptionsAsync(Ct)).Select(s => s.Id).Order());
        Assert.False(await _store.DeleteSubscriptionAsync("key", first.Id, Ct));
    }

    [Fact]
    public async Task ARotatedKeySignsWithThePreviousOneUntilItExpires()
    {
        var subscription = await SubscribeAsync();
        var newKey = WebhookSignature.NewKey();
        Assert.Null(await _store.RotateKeyAsync("other", subscription.Id, newKey, T0.AddHours(1), Ct));

        var rotated = await _store.RotateKeyAsync("key", subscription.Id, newKey, T0.AddHours(1), Ct);
        await EnqueueAsync((subscription, 1));

        Assert.Equal(newKey, rotated!.Key);
        Assert.Equal(subscription.Key, rotated.PreviousKey);
        Assert.Equal(T0.AddHours(1), rotated.PreviousKeyExpiresAt);
        Assert.Equal(subscription.Key, (await HeadAsync(subscription)).PreviousKey);
        Time.Advance(TimeSpan.FromHours(1));
        var head = await HeadAsync(subscription);
        Assert.Equal(newKey, head.Key);
        Assert.Null(head.PreviousKey);
    }

    [Fact]
    public async Task EachSubscriptionHasAFifoQueueWhoseHeadAloneIsOffered()
    {
        var a = await SubscribeAsync();
        var b = await SubscribeAsync(url: "https://hooks.example/b");

        await EnqueueAsync((a, 1), (b, 1), (a, 2));
        var head = await HeadAsync(a);

        Assert.Equal(["body 1", "body 1"], (await _store.QueueHeadsAsync(Ct)).Select(h => h.Payload));
        Assert.Equal((0, T0, a.Url, "call.connected"), (head.Attempts, head.NextAttemptAt, head.Url, head.EventType));
        Assert.StartsWith("msg_", head.MessageId, StringComparison.Ordinal);
        Assert.True(await RecordAsync(head, DeliveryState.Succeeded));
        Assert.Equal("body 2", (await HeadAsync(a)).Payload);
        Assert.False(await RecordAsync(head, DeliveryState.Succeeded));
        Assert.Equal((2L, (DateTimeOffset?)T0), await _store.PendingSummaryAsync(Ct));
    }

    [Fact]
    public async Task EnqueueingAnEventTwiceForASubscriptionQueuesItOnce()
    {
        var a = await SubscribeAsync();
        var b = await SubscribeAsync(url: "https://hooks.example/b");
        await EnqueueAsync((a, 1), (a, 2));

        // As a new leader replaying the log from an older checkpoint would.
        await EnqueueAsync((a, 1), (a, 2), (b, 1), (a, 3));

        Assert.Equal(["call3.1", "call2.1", "call1.1"], (await LogAsync(a)).Select(d => d.EventId));
        Assert.Equal(["call1.1"], (await LogAsync(b)).Select(d => d.EventId));
    }

    [Fact]
    public async Task DeliveriesForASubscriptionDeletedMeanwhileAreDropped()
    {
        var gone = await SubscribeAsync();
        var kept = await SubscribeAsync(url: "https://hooks.example/kept");
        await _store.DeleteSubscriptionAsync("key", gone.Id, Ct);

        await EnqueueAsync((gone, 1), (kept, 1));

        Assert.Equal([kept.Id], (await _store.QueueHeadsAsync(Ct)).Select(h => h.SubscriptionId));
        Assert.Equal(new CallLogHead(Epoch, 1), await _store.CheckpointAsync(Ct));
    }

    [Fact]
    public async Task TheCheckpointIsTheLastPositionWrittenAndNeverMovesBackWithinAnEpoch()
    {
        Assert.Null(await _store.CheckpointAsync(Ct));

        await _store.EnqueueAsync([], new CallLogHead(Epoch, 5), Ct);
        await _store.EnqueueAsync([], new CallLogHead(Epoch, 3), Ct);
        Assert.Equal(new CallLogHead(Epoch, 5), await _store.CheckpointAsync(Ct));

        await _store.EnqueueAsync([], new CallLogHead("new-epoch", 1), Ct);
        Assert.Equal(new CallLogHead("new-epoch", 1), await _store.CheckpointAsync(Ct));
    }

    [Fact]
    public async Task AFailedAttemptKeepsTheDeliveryPendingUntilItsNextAttemptAndAFinalOneCompletesIt()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1));

        Time.Advance(TimeSpan.FromSeconds(1));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Pending, 503, T0.AddSeconds(6));

        var head = await HeadAsync(subscription);
        Assert.Equal((1, T0.AddSeconds(6)), (head.Attempts, head.NextAttemptAt));
        var pending = Assert.Single(await LogAsync(subscription));
        Assert.Equal((DeliveryState.Pending, 503, "HTTP 503"), (pending.State, pending.LastStatusCode, pending.LastError));
        Assert.Equal((T0.AddSeconds(1), (DateTimeOffset?)null), (pending.LastAttemptAt, pending.CompletedAt));

        Time.Advance(TimeSpan.FromSeconds(5));
        await RecordAsync(head, DeliveryState.Failed, status: null);

        var failed = Assert.Single(await LogAsync(subscription));
        Assert.Equal((DeliveryState.Failed, 2, (int?)null), (failed.State, failed.Attempts, failed.LastStatusCode));
        Assert.Equal((T0.AddSeconds(6), (DateTimeOffset?)null), (failed.CompletedAt, failed.NextAttemptAt));
        Assert.Empty(await _store.QueueHeadsAsync(Ct));
        Assert.Equal((0L, (DateTimeOffset?)null), await _store.PendingSummaryAsync(Ct));
    }

    [Fact]
    public async Task DisablingASubscriptionFailsItsPendingDeliveriesAndTakesItOutOfTheQueue()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1), (subscription, 2));

        await RecordAsync(await HeadAsync(subscription), DeliveryState.Failed, 410, disable: "the endpoint answered 410 Gone");

        var disabled = await _store.GetSubscriptionAsync("key", subscription.Id, Ct);
        Assert.Equal((WebhookState.Disabled, "the endpoint answered 410 Gone"), (disabled!.State, disabled.DisabledReason));
        Assert.Empty(await _store.EnabledSubscriptionsAsync(Ct));
        Assert.Empty(await _store.QueueHeadsAsync(Ct));
        var log = await LogAsync(subscription);
        Assert.All(log, d => Assert.Equal(DeliveryState.Failed, d.State));
        Assert.Equal("not sent: the subscription was disabled (the endpoint answered 410 Gone)", log[0].LastError);
        Assert.Equal(0, log[0].Attempts);
        Assert.Equal((RedeliveryOutcome.SubscriptionDisabled, (WebhookDelivery?)null), await _store.RedeliverAsync(subscription.Id, log[0].Id, Ct));
    }

    [Fact]
    public async Task AnEventQueuedForASubscriptionDisabledMeanwhileIsFailedUnsentNotLeftPending()
    {
        // The writer chose the enabled subscriptions, then the endpoint answered 410 before the batch was written.
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Failed, 410, disable: "the endpoint answered 410 Gone");

        await EnqueueAsync((subscription, 2));

        Assert.Empty(await _store.QueueHeadsAsync(Ct));
        Assert.Equal((0L, (DateTimeOffset?)null), await _store.PendingSummaryAsync(Ct));
        var late = (await LogAsync(subscription)).Single(d => d.EventId == "call2.1");
        Assert.Equal((DeliveryState.Failed, 0), (late.State, late.Attempts));
        Assert.Equal("not sent: the subscription was disabled (the endpoint answered 410 Gone)", late.LastError);
        Assert.Equal(((DateTimeOffset?)null, (DateTimeOffset?)T0), (late.NextAttemptAt, late.CompletedAt));
    }

    [Fact]
    public async Task RedeliveringAFinishedDeliveryQueuesACopyWithTheSameMessageAtTheEnd()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1));
        var original = await HeadAsync(subscription);
        await RecordAsync(original, DeliveryState.Succeeded);
        await EnqueueAsync((subscription, 2));
        Time.Advance(TimeSpan.FromMinutes(1));

        var (outcome, copy) = await _store.RedeliverAsync(subscription.Id, original.Id, Ct);

        Assert.Equal(RedeliveryOutcome.Enqueued, outcome);
        Assert.Equal((original.Id, original.MessageId, DeliveryState.Pending, 0), (copy!.RedeliveryOf, copy.MessageId, copy.State, copy.Attempts));
        Assert.Equal((T0.AddMinutes(1), (DateTimeOffset?)T0.AddMinutes(1)), (copy.CreatedAt, copy.NextAttemptAt));
        var second = await HeadAsync(subscription);
        Assert.Equal([copy.Id, second.Id, original.Id], (await LogAsync(subscription)).Select(d => d.Id));
        await RecordAsync(second, DeliveryState.Succeeded);
        var again = await HeadAsync(subscription);
        Assert.Equal((copy.Id, "body 1", original.MessageId), (again.Id, again.Payload, again.MessageId));
        Assert.Equal((RedeliveryOutcome.NotFound, (WebhookDelivery?)null), await _store.RedeliverAsync("wh_other", original.Id, Ct));
    }

    [Fact]
    public async Task RedeliveringAPendingDeliveryMakesItAndEveryOneBeforeItDueNow()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1), (subscription, 2), (subscription, 3));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Pending, 503, T0.AddHours(1));
        var second = (await LogAsync(subscription))[1];
        Time.Advance(TimeSpan.FromMinutes(1));

        var (outcome, carrier) = await _store.RedeliverAsync(subscription.Id, second.Id, Ct);

        Assert.Equal((RedeliveryOutcome.Rescheduled, second.Id), (outcome, carrier!.Id));
        Assert.Equal(T0.AddMinutes(1), (await HeadAsync(subscription)).NextAttemptAt);
        Assert.Equal(T0, (await LogAsync(subscription))[0].NextAttemptAt);
    }

    [Fact]
    public async Task TheDeliveryLogPagesNewestFirstAndFiltersByState()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1), (subscription, 2), (subscription, 3), (subscription, 4), (subscription, 5));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Succeeded);
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Succeeded);

        var first = await _store.ListDeliveriesAsync(subscription.Id, null, 0, 2, Ct);
        var second = await _store.ListDeliveriesAsync(subscription.Id, null, first.Next!.Value, 2, Ct);
        var third = await _store.ListDeliveriesAsync(subscription.Id, null, second.Next!.Value, 2, Ct);
        var succeeded = await _store.ListDeliveriesAsync(subscription.Id, DeliveryState.Succeeded, 0, 1, Ct);
        var olderSucceeded = await _store.ListDeliveriesAsync(subscription.Id, DeliveryState.Succeeded, succeeded.Next!.Value, 1, Ct);

        Assert.Equal(["call5.1", "call4.1"], first.Items.Select(d => d.EventId));
        Assert.Equal(["call3.1", "call2.1"], second.Items.Select(d => d.EventId));
        Assert.Equal(["call1.1"], third.Items.Select(d => d.EventId));
        Assert.Null(third.Next);
        Assert.Equal(["call2.1"], succeeded.Items.Select(d => d.EventId));
        Assert.Equal(["call1.1"], olderSucceeded.Items.Select(d => d.EventId));
        Assert.Null(olderSucceeded.Next);
        Assert.Equal(3, (await LogAsync(subscription, DeliveryState.Pending)).Count);
        var one = await _store.GetDeliveryAsync(subscription.Id, first.Items[0].Id, Ct);
        Assert.Equal(("call5", subscription.Id), (one!.CallId, one.WebhookId));
        Assert.Null(await _store.GetDeliveryAsync("wh_other", first.Items[0].Id, Ct));
    }

    [Fact]
    public async Task PurgingRemovesOnlyDeliveriesFinishedBeforeTheCutOff()
    {
        var subscription = await SubscribeAsync();
        await EnqueueAsync((subscription, 1), (subscription, 2), (subscription, 3));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Succeeded);
        Time.Advance(TimeSpan.FromHours(1));
        await RecordAsync(await HeadAsync(subscription), DeliveryState.Succeeded);

        Assert.Equal(1, await _store.PurgeCompletedAsync(T0.AddMinutes(30), Ct));

        Assert.Equal(["call3.1", "call2.1"], (await LogAsync(subscription)).Select(d => d.EventId));
        Assert.Equal(0, await _store.PurgeCompletedAsync(T0.AddMinutes(30), Ct));
        Assert.Equal((1L, (DateTimeOffset?)T0), await _store.PendingSummaryAsync(Ct));
    }

    [Fact]
    public async Task ACallsStatusCallbackIsCreatedOnceAndIsNoneOfItsOwnersWebhooks()
    {
        var registered = await SubscribeAsync();

        var callback = await _store.EnsureCallCallbackAsync("key", "call1", "https://hooks.example/call1", ["call.ended"], Ct);
        Time.Advance(TimeSpan.FromSeconds(1));
        var again = await _store.EnsureCallCallbackAsync("other", "call1", "https://elsewhere.example/", null, Ct);

        Assert.Equal(WebhookStoreFormat.CallbackId("call1"), callback.Id);
        Assert.Equivalent(callback, again);
        Assert.Equal(("key", "call1", "https://hooks.example/call1", T0), (again.Owner, again.CallId, again.Url, again.CreatedAt));
        Assert.Equal(["call.ended"], again.EventTypes);
        Assert.Equivalent(callback, Assert.Single(await _store.CallCallbacksAsync(["call1", "call2"], Ct)));
        Assert.Equal([registered.Id], (await _store.ListSubscriptionsAsync("key", Ct)).Select(s => s.Id));
        Assert.Equal([registered.Id], (await _store.EnabledSubscriptionsAsync(Ct)).Select(s => s.Id));
        Assert.Equal(1, await _store.CountSubscriptionsAsync("key", Ct));
        Assert.Null(await _store.GetSubscriptionAsync("key", callback.Id, Ct));
        Assert.False(await _store.DeleteSubscriptionAsync("key", callback.Id, Ct));
        Assert.Null(await _store.RotateKeyAsync("key", callback.Id, WebhookSignature.NewKey(), T0.AddHours(1), Ct));
    }

    [Fact]
    public async Task AStatusCallbackIsSignedWithItsOwnersCallbackSecretOnceThereIsOne()
    {
        var callback = await _store.EnsureCallCallbackAsync("key", "call1", "https://hooks.example/call1", null, Ct);
        await EnqueueAsync((callback, 1));
        Assert.Empty(await _store.QueueHeadsAsync(Ct));
        Assert.Null(await _store.CallbackSecretAsync("key", Ct));

        var first = WebhookSignature.NewKey();
        var set = await _store.SetCallbackSecretAsync("key", first, T0.AddHours(1), Ct);

        Assert.Equal(first, set.Key);
        Assert.Equal(((byte[]?)null, (DateTimeOffset?)null, T0), (set.PreviousKey, set.PreviousKeyExpiresAt, set.CreatedAt));
        var head = await HeadAsync(callback);
        Assert.Equal(first, head.Key);
        Assert.Null(head.PreviousKey);
        Assert.Equal("https://hooks.example/call1", head.Url);

        var second = WebhookSignature.NewKey();
        var rotated = await _store.SetCallbackSecretAsync("key", second, T0.AddHours(1), Ct);

        Assert.Equal(second, rotated.Key);
        Assert.Equal(first, rotated.PreviousKey);
        Assert.Equal(T0.AddHours(1), rotated.PreviousKeyExpiresAt);
        head = await HeadAsync(callback);
        Assert.Equal(second, head.Key);
        Assert.Equal(first, head.PreviousKey);
        Time.Advance(TimeSpan.FromHours(1));
        Assert.Null((await HeadAsync(callback)).PreviousKey);
        Assert.Null(await _store.CallbackSecretAsync("other", Ct));
    }

    [Fact]
    public async Task PurgingForgetsAStatusCallbackOnceNoneOfItsDeliveriesIsLeft()
    {
        await _store.SetCallbackSecretAsync("key", WebhookSignature.NewKey(), T0, Ct);
        var delivered = await _store.EnsureCallCallbackAsync("key", "call1", "https://hooks.example/call1", null, Ct);
        var pending = await _store.EnsureCallCallbackAsync("key", "call2", "https://hooks.example/call2", null, Ct);
        await EnqueueAsync((delivered, 1), (pending, 2));
        await RecordAsync(await HeadAsync(delivered), DeliveryState.Succeeded);
        Time.Advance(TimeSpan.FromHours(1));
        var young = await _store.EnsureCallCallbackAsync("key", "call3", "https://hooks.example/call3", null, Ct);

        Assert.Equal(1, await _store.PurgeCompletedAsync(T0.AddMinutes(30), Ct));

        Assert.Equal([pending.Id, young.Id], (await _store.CallCallbacksAsync(["call1", "call2", "call3"], Ct)).Select(c => c.Id).Order());
        Assert.Equal([pending.Id], (await _store.QueueHeadsAsync(Ct)).Select(h => h.SubscriptionId));
    }
}
