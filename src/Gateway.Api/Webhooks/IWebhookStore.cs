using System.Security.Cryptography;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Store;

namespace Gateway.Api.Webhooks;

/// <summary>A subscription as stored: with its owner (the API key's name) and signing keys. A per-call status callback
/// is a subscription too, with <see cref="CallId"/> set: it gets that call's events alone, is signed with its owner's
/// <see cref="StoredCallbackSecret"/> (its own keys are empty) and is not listed among the owner's webhooks.</summary>
public sealed record StoredSubscription(
    string Id, string Owner, string Url, IReadOnlyList<string>? EventTypes, string? Address, string? Description,
    byte[] Key, byte[]? PreviousKey, DateTimeOffset? PreviousKeyExpiresAt, WebhookState State, string? DisabledReason, DateTimeOffset CreatedAt,
    string? CallId = null)
{
    public WebhookSubscription ToResource(DateTimeOffset now) => new()
    {
        Id = Id,
        Url = Url,
        EventTypes = EventTypes,
        Address = Address,
        Description = Description,
        State = State,
        DisabledReason = DisabledReason,
        CreatedAt = CreatedAt,
        PreviousSecretExpiresAt = PreviousKeyExpiresAt > now ? PreviousKeyExpiresAt : null,
    };

    public WebhookSubscriptionWithSecret ToResourceWithSecret(DateTimeOffset now) => new(ToResource(now), WebhookSignature.FormatSecret(Key));
}

/// <summary>An API key's status-callback signing secret: it signs the deliveries of every call the key placed with a
/// <c>statusCallback</c> (after a rotation, the previous key too until it expires).</summary>
public sealed record StoredCallbackSecret(string Owner, byte[] Key, byte[]? PreviousKey, DateTimeOffset? PreviousKeyExpiresAt, DateTimeOffset CreatedAt);

/// <summary>An event to enqueue for a subscription; <see cref="Payload"/> is the exact body every attempt sends.</summary>
public sealed record NewDelivery(string SubscriptionId, CallEvent Event, string Payload);

/// <summary>The next delivery of a subscription (the head of its queue), with what an attempt needs.</summary>
public sealed record QueuedDelivery(
    string Id, string SubscriptionId, string MessageId, string EventType, string Payload, int Attempts, DateTimeOffset NextAttemptAt,
    string Url, byte[] Key, byte[]? PreviousKey);

/// <summary>What one attempt came to: the delivery's new state (and next attempt), and whether its subscription is to be disabled.</summary>
public sealed record AttemptRecord(
    string DeliveryId, DateTimeOffset At, int? StatusCode, string? Error, DeliveryState State, DateTimeOffset? NextAttemptAt, string? DisableReason);

/// <summary>What <see cref="IWebhookStore.RedeliverAsync"/> did.</summary>
public enum RedeliveryOutcome { NotFound, SubscriptionDisabled, Rescheduled, Enqueued }

/// <summary>
/// Subscriptions, the delivery queue and the event checkpoint. <see cref="SqliteWebhookStore"/> keeps them in one file
/// for one process; <see cref="RedisWebhookStore"/> in Redis, shared by every replica (only the leader writes the queue
/// and sends; any replica serves the API). A subscription's deliveries form a FIFO queue: only its oldest pending
/// delivery (its head) is attempted. Times are kept to the millisecond.
/// </summary>
public interface IWebhookStore
{
    /// <summary>Where the data lives, for health and logs (a file path, or the Redis key prefix).</summary>
    string Location { get; }

    /// <summary>How often the dispatcher looks at the queue without being woken: null when only this process changes it;
    /// a shared store's queue also changes on other replicas (a re-delivery asked of any of them).</summary>
    TimeSpan? PollInterval { get; }

    /// <summary>Makes the store ready (schema, connection). Idempotent.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<StoredSubscription> CreateSubscriptionAsync(
        string owner, string url, IReadOnlyList<string>? eventTypes, string? address, string? description, byte[] key, CancellationToken cancellationToken);

    Task<int> CountSubscriptionsAsync(string owner, CancellationToken cancellationToken);

    /// <summary><paramref name="owner"/>'s subscriptions, oldest first.</summary>
    Task<IReadOnlyList<StoredSubscription>> ListSubscriptionsAsync(string owner, CancellationToken cancellationToken);

    /// <summary>The enabled subscriptions (per-call callbacks aside) of every owner, oldest first: the candidates for a new event.</summary>
    Task<IReadOnlyList<StoredSubscription>> EnabledSubscriptionsAsync(CancellationToken cancellationToken);

    /// <summary>The subscription, if it exists and belongs to <paramref name="owner"/>.</summary>
    Task<StoredSubscription?> GetSubscriptionAsync(string owner, string id, CancellationToken cancellationToken);

    /// <summary>Deletes the subscription and its delivery log. False when it does not exist or is not <paramref name="owner"/>'s.</summary>
    Task<bool> DeleteSubscriptionAsync(string owner, string id, CancellationToken cancellationToken);

    /// <summary>Replaces the signing key; the old one keeps signing (second signature) until <paramref name="previousKeyExpiresAt"/>.</summary>
    Task<StoredSubscription?> RotateKeyAsync(string owner, string id, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken);

    /// <summary>The status callback of call <paramref name="callId"/> (subscription id <see cref="WebhookStoreFormat.CallbackId"/>),
    /// created when it does not exist yet; an existing one is returned as it is.</summary>
    Task<StoredSubscription> EnsureCallCallbackAsync(string owner, string callId, string url, IReadOnlyList<string>? eventTypes, CancellationToken cancellationToken);

    /// <summary>The status callbacks of those of <paramref name="callIds"/> that have one.</summary>
    Task<IReadOnlyList<StoredSubscription>> CallCallbacksAsync(IReadOnlyCollection<string> callIds, CancellationToken cancellationToken);

    Task<StoredCallbackSecret?> CallbackSecretAsync(string owner, CancellationToken cancellationToken);

    /// <summary>Sets <paramref name="owner"/>'s status-callback secret; a secret it had keeps signing (second signature)
    /// until <paramref name="previousKeyExpiresAt"/>.</summary>
    Task<StoredCallbackSecret> SetCallbackSecretAsync(string owner, byte[] key, DateTimeOffset previousKeyExpiresAt, CancellationToken cancellationToken);

    /// <summary>Adds deliveries at once, in list order (which becomes their delivery order), due now, and records that the
    /// queue holds every event of the call log up to <paramref name="checkpoint"/>. Idempotent per (subscription, event):
    /// an event already queued for a subscription (and not yet purged) is not queued again, so replaying the log after a
    /// take-over doubles nothing. Deliveries of a subscription deleted meanwhile are dropped. The checkpoint never moves
    /// back within an epoch.</summary>
    Task EnqueueAsync(IReadOnlyList<NewDelivery> deliveries, CallLogHead checkpoint, CancellationToken cancellationToken);

    /// <summary>The call log position the queue is complete up to, or null before the first event.</summary>
    Task<CallLogHead?> CheckpointAsync(CancellationToken cancellationToken);

    /// <summary>The head of every enabled subscription's queue (its oldest pending delivery), with its secrets (for a
    /// status callback, its owner's callback secret; none yet, no head), soonest due first.</summary>
    Task<IReadOnlyList<QueuedDelivery>> QueueHeadsAsync(CancellationToken cancellationToken);

    /// <summary>Records an attempt. When it disables the subscription, the subscription's other pending deliveries fail
    /// with it. False when the delivery no longer exists or is no longer pending.</summary>
    Task<bool> RecordAttemptAsync(AttemptRecord attempt, CancellationToken cancellationToken);

    /// <summary>
    /// Manual re-delivery. A finished delivery is enqueued again as a new delivery at the end of the subscription's queue,
    /// with the same message id (receivers that processed it drop it) and payload. A pending one is made due now, with every
    /// pending delivery before it (order is kept, so they go first). The delivery that will carry the event is returned.
    /// </summary>
    Task<(RedeliveryOutcome Outcome, WebhookDelivery? Delivery)> RedeliverAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken);

    /// <summary>A page of a subscription's delivery log, newest first.</summary>
    /// <param name="before">The cursor: only deliveries older than this position (0 for the first page).</param>
    Task<(IReadOnlyList<WebhookDelivery> Items, long? Next)> ListDeliveriesAsync(
        string subscriptionId, DeliveryState? state, long before, int limit, CancellationToken cancellationToken);

    Task<WebhookDelivery?> GetDeliveryAsync(string subscriptionId, string deliveryId, CancellationToken cancellationToken);

    /// <summary>Deletes finished deliveries completed before <paramref name="before"/>; returns how many. Status callbacks
    /// created before it that have no delivery left go too (their call's events were delivered and forgotten).</summary>
    Task<int> PurgeCompletedAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>How many deliveries are pending, and when the oldest of them was queued.</summary>
    Task<(long Pending, DateTimeOffset? OldestCreatedAt)> PendingSummaryAsync(CancellationToken cancellationToken);
}

/// <summary>What both stores write the same way: ids, state names and times (unix milliseconds).</summary>
internal static class WebhookStoreFormat
{
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>The subscription id of a call's status callback: one per call, found without an index.</summary>
    public static string CallbackId(string callId) => "cb_" + callId;

    public static string NewId(string prefix) => prefix + RandomNumberGenerator.GetString(IdAlphabet, 20);

    /// <summary>The error of a delivery failed unsent because its subscription was disabled for <paramref name="reason"/>.</summary>
    public static string NotSentDisabled(string reason) => NotSentDisabledPrefix + reason + ")";

    /// <summary><see cref="NotSentDisabled"/> as SQL, of the subscription row <c>s</c>.</summary>
    public const string NotSentDisabledSql = "'" + NotSentDisabledPrefix + "' || COALESCE(s.disabled_reason, '') || ')'";

    /// <summary>What <see cref="NotSentDisabled"/> puts before the reason (the Redis scripts build the text from it).</summary>
    public const string NotSentDisabledPrefix = "not sent: the subscription was disabled (";

    public static string StateText(DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.Succeeded => "succeeded",
        _ => "failed",
    };

    public static DeliveryState ParseState(string text) => text switch
    {
        "pending" => DeliveryState.Pending,
        "succeeded" => DeliveryState.Succeeded,
        _ => DeliveryState.Failed,
    };

    public static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset Truncate(DateTimeOffset time) => Time(Ms(time));
}
