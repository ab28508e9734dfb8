using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;
using Gateway.Api.Calls;

using Gateway.Api.Calls.State;

namespace Gateway.Api.Webhooks;

/// <summary>The call event types a subscription can filter on (<see cref="CallEvent.Type"/>).</summary>
public static class CallEventTypes
{
    public static IReadOnlyList<string> All { get; } =
    [
        .. Enum.GetValues<CallState>().Select(s => "call." + CallStateMachine.StateName(s)),
        CallStateMachine.HangupRequested,
        CallStateMachine.HangupFailed,
        CallStateMachine.TransferRequested,
        CallStateMachine.TransferFailed,
        CallStateMachine.Updated,
    ];
}

/// <summary>Whether a subscription receives events.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WebhookState>))]
public enum WebhookState
{
    [JsonStringEnumMemberName("enabled")] Enabled,
    /// <summary>The endpoint answered 410 Gone: nothing more is sent to it.</summary>
    [JsonStringEnumMemberName("disabled")] Disabled,
}

/// <summary>Where a delivery is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeliveryState>))]
public enum DeliveryState
{
    /// <summary>Waiting for its first or next attempt.</summary>
    [JsonStringEnumMemberName("pending")] Pending,
    /// <summary>The endpoint answered 2xx.</summary>
    [JsonStringEnumMemberName("succeeded")] Succeeded,
    /// <summary>Every attempt failed, or the subscription was disabled.</summary>
    [JsonStringEnumMemberName("failed")] Failed,
}

/// <summary>Body of <c>POST /webhooks</c>.</summary>
public sealed record CreateWebhookRequest
{
    [Description("The endpoint events are POSTed to: an absolute https URL (http only where Gateway:Webhooks:RequireHttps is off) whose host resolves to public addresses.")]
    public string? Url { get; init; }

    [Description("Only these event types (see CallEvent.type); omit for every type.")]
    public IReadOnlyList<string>? EventTypes { get; init; }

    [Description("Only events of calls with a party or leg at this SIP address (user@domain or sip:user@domain); it must be within the API key's scope.")]
    public string? Address { get; init; }

    [Description("Free text for your own reference (at most 256 characters).")]
    public string? Description { get; init; }
}

/// <summary>A webhook subscription. Only the API key that created it sees it.</summary>
public record WebhookSubscription
{
    [Description("The subscription's id (wh_…).")]
    public required string Id { get; init; }

    public required string Url { get; init; }

    [Description("The event types delivered; null for every type.")]
    public IReadOnlyList<string>? EventTypes { get; init; }

    [Description("Only events of calls with a party or leg at this SIP address; null for every call the API key may see.")]
    public string? Address { get; init; }

    public string? Description { get; init; }

    public required WebhookState State { get; init; }

    [Description("Why the subscription was disabled.")]
    public string? DisabledReason { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    [Description("Until then deliveries carry a second signature made with the previous secret (after a rotation).")]
    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
}

/// <summary>A subscription with its signing secret: only the answers to creating it and to rotating its secret carry it.</summary>
public sealed record WebhookSubscriptionWithSecret : WebhookSubscription
{
    [SetsRequiredMembers]
    public WebhookSubscriptionWithSecret(WebhookSubscription subscription, string secret) : base(subscription) => Secret = secret;

    [Description("The signing secret, whsec_ + base64 of 32 random bytes: the HMAC-SHA256 key is the base64-decoded part. Shown only now: keep it.")]
    [JsonPropertyOrder(1)]
    public required string Secret { get; init; }
}

/// <summary>The API key's subscriptions.</summary>
public sealed record WebhookSubscriptionList(
    [property: Description("Oldest first.")] IReadOnlyList<WebhookSubscription> Items);

/// <summary>One event on its way to one subscription: an entry of the delivery log.</summary>
public sealed record WebhookDelivery
{
    [Description("The delivery's id (dlv_…).")]
    public required string Id { get; init; }

    [Description("The subscription's id.")]
    public required string WebhookId { get; init; }

    [Description("The webhook-id header: the same on every attempt and re-delivery of this event to this subscription; receivers use it to drop duplicates.")]
    public required string MessageId { get; init; }

    [Description("The call event's id.")]
    public required string EventId { get; init; }

    public required string EventType { get; init; }

    public required string CallId { get; init; }

    public required DeliveryState State { get; init; }

    [Description("Attempts made so far.")]
    public required int Attempts { get; init; }

    public DateTimeOffset? LastAttemptAt { get; init; }

    [Description("The HTTP status of the last attempt, if the endpoint answered.")]
    public int? LastStatusCode { get; init; }

    [Description("Why the last attempt failed, when it did.")]
    public string? LastError { get; init; }

    [Description("When the next attempt is due (pending deliveries only; a subscription's deliveries go out in order, so it may wait for an earlier one).")]
    public DateTimeOffset? NextAttemptAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    [Description("The delivery this one re-delivers, for manual re-deliveries.")]
    public string? RedeliveryOf { get; init; }
}

/// <summary>One page of the delivery log.</summary>
public sealed record WebhookDeliveryPage(
    [property: Description("Newest first.")] IReadOnlyList<WebhookDelivery> Items,
    [property: Description("Pass as cursor to get the next (older) page; null on the last page.")] string? NextCursor);

/// <summary>The body of every webhook request (Standard Webhooks' payload structure).</summary>
public sealed record WebhookPayload(
    [property: Description("The event type, e.g. call.connected.")] string Type,
    [property: Description("When the event happened (not when it was sent).")] DateTimeOffset Timestamp,
    [property: Description("The call event, exactly as GET /calls/{id}/events shows it.")] CallEvent Data);
