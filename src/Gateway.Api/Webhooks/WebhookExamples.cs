using Gateway.Api.OpenApi;
using Microsoft.AspNetCore.Http;

namespace Gateway.Api.Webhooks;

/// <summary>The webhook examples of the OpenAPI document.</summary>
public static class WebhookExamples
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 15, 9, 30, 0, TimeSpan.Zero);

    public static readonly CreateWebhookRequest CreateRequest = new()
    {
        Url = "https://hooks.example.com/active-calls",
        EventTypes = ["call.connected", "call.ended"],
        Address = "alice@example.onsip.com",
        Description = "CRM call log",
    };

    public static readonly WebhookSubscription Subscription = new()
    {
        Id = "wh_k3q7x2mb5vd4ltr6yw2h",
        Url = "https://hooks.example.com/active-calls",
        EventTypes = ["call.connected", "call.ended"],
        Address = "alice@example.onsip.com",
        Description = "CRM call log",
        State = WebhookState.Enabled,
        CreatedAt = T0,
    };

    public static readonly WebhookSubscriptionWithSecret CreatedSubscription = new(Subscription, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwHD2xsY9Ogc4=");

    public static readonly WebhookSubscriptionWithSecret RotatedSubscription = new(
        Subscription with { PreviousSecretExpiresAt = T0.AddDays(1) }, "whsec_3Hc7b1oJd2Ue0k6wq8rN5tXyZ4vA9sLmPfG2hK1jQ0w=");

    public static readonly WebhookDelivery FailedDelivery = new()
    {
        Id = "dlv_c2m4q6s8u2w4y6a2c4e6",
        WebhookId = Subscription.Id,
        MessageId = "msg_f3h5j7l2n4p6r2t4v6x7",
        EventId = "ab12cd34.5",
        EventType = "call.connected",
        CallId = "ab12cd34",
        State = DeliveryState.Failed,
        Attempts = 8,
        LastAttemptAt = T0.AddHours(27.6),
        LastStatusCode = 503,
        LastError = "HTTP 503",
        CreatedAt = T0.AddSeconds(9),
        CompletedAt = T0.AddHours(27.6),
    };

    public static readonly WebhookDelivery PendingDelivery = FailedDelivery with
    {
        Id = "dlv_g3k5m7p2r4t6v2x4z6b3",
        MessageId = "msg_h2j4l6n2p4r6t7v3x5z7",
        EventId = "ab12cd34.6",
        EventType = "call.ended",
        State = DeliveryState.Pending,
        Attempts = 2,
        LastAttemptAt = T0.AddSeconds(47),
        LastStatusCode = null,
        LastError = "Connection refused (hooks.example.com:443)",
        NextAttemptAt = T0.AddSeconds(347),
        CreatedAt = T0.AddSeconds(42),
        CompletedAt = null,
    };

    public static readonly WebhookDeliveryPage DeliveryPage = new([PendingDelivery, FailedDelivery], "ZGVsaXZlcmllczoxMg");

    public static readonly WebhookDelivery RedeliveredDelivery = FailedDelivery with
    {
        Id = "dlv_q7s2u4w6y2a4c6e2g4i6",
        State = DeliveryState.Pending,
        Attempts = 0,
        LastAttemptAt = null,
        LastStatusCode = null,
        LastError = null,
        NextAttemptAt = T0.AddHours(40),
        CreatedAt = T0.AddHours(40),
        CompletedAt = null,
        RedeliveryOf = FailedDelivery.Id,
    };

    public static readonly WebhookPayload Payload = new("call.connected", T0.AddSeconds(9), OpenApiExamples.EventList.Items[^1]);

    public static readonly HttpValidationProblemDetails ValidationProblem = OpenApiExamples.Validation("/webhooks", new Dictionary<string, string[]>
    {
        ["url"] = ["points at 10.0.0.7, a private address: webhook targets must be public (Gateway:Webhooks:AllowPrivateTargets allows others for development)."],
        ["eventTypes"] = ["has unknown types (call.answered); known: " + string.Join(", ", CallEventTypes.All) + "."],
    });
}
