using System.ComponentModel;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Errors;
using Gateway.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>An API key's status-callback secret: only the answer to setting it carries <see cref="Secret"/>.</summary>
public sealed record StatusCallbackSecret
{
    [Description("The signing secret of every status callback of the calls this API key places, whsec_ + base64 of 32 random bytes (verify deliveries exactly like a registered webhook's). Shown only now: keep it.")]
    public required string Secret { get; init; }

    [Description("When this secret was made.")]
    public required DateTimeOffset CreatedAt { get; init; }

    [Description("Until then deliveries also carry a signature made with the previous secret (after a rotation); null when there is none.")]
    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
}

/// <summary>What the status-callback handlers need, bound with <c>[AsParameters]</c>.</summary>
public sealed class StatusCallbackServices(
    IWebhookStore store, WebhookDispatcher dispatcher, IOptions<WebhookOptions> options, ClaimsPrincipal user, TimeProvider time)
{
    public IWebhookStore Store { get; } = store;
    public WebhookDispatcher Dispatcher { get; } = dispatcher;
    public IOptions<WebhookOptions> Options { get; } = options;
    public ClaimsPrincipal User { get; } = user;
    public TimeProvider Time { get; } = time;

    internal string Owner => User.KeyName() ?? throw new InvalidOperationException("No API key on an authorised request.");

    /// <summary>The call's status callback, when the API key placed the call or is the administrator (scope <c>*</c>).</summary>
    internal async Task<StoredSubscription?> VisibleCallbackAsync(string callId, CancellationToken cancellationToken) =>
        (await Store.CallCallbacksAsync([callId], cancellationToken)) is [var callback] && (callback.Owner == Owner || User.Scope().AllowsEverything)
            ? callback
            : null;
}

/// <summary>
/// Per-call status callbacks (<c>statusCallback</c> of <c>POST /calls</c>): the API key's signing secret, and each
/// call's delivery log and re-delivery. A callback is a webhook subscription of one call (see
/// <see cref="StoredSubscription"/>), so it is queued, signed, guarded, retried and logged by the same code; like
/// Twilio's account token, one secret per API key signs all of its calls' callbacks, so a receiver is set up once and
/// can verify the first event of a call before the answer to <c>POST /calls</c> arrived.
/// </summary>
public static class StatusCallbacksApi
{
    public static void MapStatusCallbacksApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/webhooks/status-callback-secret", SetSecret)
            .WithTags("Webhooks")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithName("SetStatusCallbackSecret")
            .WithSummary("Create or rotate the API key's status-callback secret")
            .WithDescription("Returns a new secret that signs the status callbacks (statusCallback of POST /calls) of every call this API key " +
                             "places, pending deliveries included; a call with a statusCallback can only be placed once the key has one. On a " +
                             "rotation the previous secret keeps signing (second signature) for Gateway:Webhooks:SecretRotationOverlap (24 h). " +
                             "The secret is shown only in this answer.")
            .WithResponseExample(StatusCodes.Status200OK, StatusCallbackExamples.Secret);

        var deliveries = app.MapGroup("/calls/{id}/status-callback/deliveries")
            .WithTags("Webhooks")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        deliveries.MapGet("", ListDeliveries)
            .WithName("ListStatusCallbackDeliveries")
            .WithSummary("List a call's status-callback deliveries")
            .WithDescription("The call's status-callback delivery log, newest first, as GET /webhooks/{id}/deliveries shows a subscription's. " +
                             "Only the API key that placed the call, and the administrator key (scope '*'), see it.")
            .WithProblem(StatusCodes.Status400BadRequest, "Invalid state, cursor or limit (validation-failed).")
            .WithProblem(StatusCodes.Status404NotFound, NotFoundDescription)
            .WithResponseExample(StatusCodes.Status200OK, StatusCallbackExamples.DeliveryPage);

        deliveries.MapGet("/{deliveryId}", GetDelivery)
            .WithName("GetStatusCallbackDelivery")
            .WithSummary("Get a status-callback delivery")
            .WithProblem(StatusCodes.Status404NotFound, DeliveryNotFoundDescription);

        deliveries.MapPost("/{deliveryId}/redeliver", Redeliver)
            .WithName("RedeliverStatusCallback")
            .WithSummary("Deliver a call's event to its status callback again")
            .WithDescription("As POST /webhooks/{id}/deliveries/{deliveryId}/redeliver: a finished delivery is queued again with the same " +
                             "webhook-id and body after the pending ones; a pending one is attempted now, with those before it.")
            .WithProblem(StatusCodes.Status404NotFound, DeliveryNotFoundDescription)
            .WithProblem(StatusCodes.Status409Conflict, "The callback is disabled (webhook-disabled): its endpoint answered 410 Gone.")
            .WithResponseDescription(StatusCodes.Status202Accepted, "Accepted: the delivery that will carry the event (see Location).");
    }

    private const string NotFoundDescription =
        "The call has no status callback, or another API key placed it (status-callback-not-found).";
    private const string DeliveryNotFoundDescription = NotFoundDescription + " Or no such delivery (delivery-not-found).";

    public static async Task<Ok<StatusCallbackSecret>> SetSecret([AsParameters] StatusCallbackServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var stored = await services.Store.SetCallbackSecretAsync(services.Owner, WebhookSignature.NewKey(), now + services.Options.Value.SecretRotationOverlap,
            cancellationToken);
        return TypedResults.Ok(new StatusCallbackSecret
        {
            Secret = WebhookSignature.FormatSecret(stored.Key),
            CreatedAt = stored.CreatedAt,
            PreviousSecretExpiresAt = stored.PreviousKeyExpiresAt > now ? stored.PreviousKeyExpiresAt : null,
        });
    }

    public static async Task<Results<Ok<WebhookDeliveryPage>, ValidationProblem, ProblemHttpResult>> ListDeliveries(
        [Description("The call's id.")] string id, [AsParameters] StatusCallbackServices services, CancellationToken cancellationToken,
        [Description("Only deliveries in this state: pending, succeeded or failed.")] string? state = null,
        [Description("The nextCursor of the previous page.")] string? cursor = null,
        [Description("Page size, 1 to 100 (default 50).")] int? limit = null)
    {
        var errors = WebhookValidation.ValidateDeliveryList(state, cursor, limit, out var parsedState, out var before, out var pageSize);
        if (errors.Count > 0) return Problems.Validation(errors);
        if (await services.VisibleCallbackAsync(id, cancellationToken) is not { } callback) return CallbackNotFound(id);
        var (items, next) = await services.Store.ListDeliveriesAsync(callback.Id, parsedState, before, pageSize, cancellationToken);
        return TypedResults.Ok(new WebhookDeliveryPage(items, next is { } n ? WebhookValidation.EncodeDeliveryCursor(n) : null));
    }

    public static async Task<Results<Ok<WebhookDelivery>, ProblemHttpResult>> GetDelivery(
        [Description("The call's id.")] string id, [Description("The delivery's id.")] string deliveryId,
        [AsParameters] StatusCallbackServices services, CancellationToken cancellationToken)
    {
        if (await services.VisibleCallbackAsync(id, cancellationToken) is not { } callback) return CallbackNotFound(id);
        return await services.Store.GetDeliveryAsync(callback.Id, deliveryId, cancellationToken) is { } delivery
            ? TypedResults.Ok(delivery)
            : DeliveryNotFound(id, deliveryId);
    }

    public static async Task<Results<Accepted<WebhookDelivery>, ProblemHttpResult>> Redeliver(
        [Description("The call's id.")] string id, [Description("The delivery's id.")] string deliveryId,
        [AsParameters] StatusCallbackServices services, CancellationToken cancellationToken)
    {
        if (await services.VisibleCallbackAsync(id, cancellationToken) is not { } callback) return CallbackNotFound(id);
        var (outcome, delivery) = await services.Store.RedeliverAsync(callback.Id, deliveryId, cancellationToken);
        switch (outcome)
        {
            case RedeliveryOutcome.NotFound:
                return DeliveryNotFound(id, deliveryId);
            case RedeliveryOutcome.SubscriptionDisabled:
                return Problems.Result(ProblemTypes.WebhookDisabled,
                    $"The status callback of call '{id}' is disabled (its endpoint answered 410 Gone).");
            default:
                services.Dispatcher.Wake();
                return TypedResults.Accepted($"/calls/{Uri.EscapeDataString(id)}/status-callback/deliveries/{Uri.EscapeDataString(delivery!.Id)}", delivery);
        }
    }

    private static ProblemHttpResult CallbackNotFound(string id) =>
        Problems.Result(ProblemTypes.StatusCallbackNotFound, $"Call '{id}' has no status callback placed by this API key.");

    private static ProblemHttpResult DeliveryNotFound(string id, string deliveryId) =>
        Problems.Result(ProblemTypes.DeliveryNotFound,
            $"The status callback of call '{id}' has no delivery '{deliveryId}' (finished deliveries are kept for a limited time).");
}

/// <summary>The status-callback examples of the OpenAPI document.</summary>
public static class StatusCallbackExamples
{
    public static readonly StatusCallbackSecret Secret = new()
    {
        Secret = "whsec_9xQ2mV7cLk3RpT0sWbN4yHf6JdE1uGzA8oKqIr5vXcY=",
        CreatedAt = new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.Zero),
    };

    public static readonly WebhookDeliveryPage DeliveryPage = new(
        [WebhookExamples.FailedDelivery with { WebhookId = WebhookStoreFormat.CallbackId("ab12cd34"), State = DeliveryState.Succeeded, Attempts = 1, LastStatusCode = 204, LastError = null,
            LastAttemptAt = WebhookExamples.FailedDelivery.CreatedAt, CompletedAt = WebhookExamples.FailedDelivery.CreatedAt }],
        null);
}
