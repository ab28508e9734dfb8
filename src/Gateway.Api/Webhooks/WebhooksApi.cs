using System.ComponentModel;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Errors;
using Gateway.Api.Json;
using Gateway.Api.OpenApi;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>What the webhook handlers need, bound with <c>[AsParameters]</c>.</summary>
public sealed class WebhookServices(
    IWebhookStore store, WebhookTargetGuard targets, WebhookDispatcher dispatcher, IOptions<WebhookOptions> options,
    IAuthorizationService authorization, ClaimsPrincipal user, TimeProvider time)
{
    public IWebhookStore Store { get; } = store;
    public WebhookTargetGuard Targets { get; } = targets;
    public WebhookDispatcher Dispatcher { get; } = dispatcher;
    public IOptions<WebhookOptions> Options { get; } = options;
    public IAuthorizationService Authorization { get; } = authorization;
    public ClaimsPrincipal User { get; } = user;
    public TimeProvider Time { get; } = time;

    /// <summary>The API key that owns the subscriptions this request may touch (the policy guarantees one).</summary>
    internal string Owner => User.KeyName() ?? throw new InvalidOperationException("No API key on an authorised request.");

    internal async Task<bool> InScopeAsync(string address) =>
        (await Authorization.AuthorizeAsync(User, new AddressResource([address], RequireAll: true), AddressScopeRequirement.Policy)).Succeeded;
}

/// <summary><c>/webhooks</c>: subscriptions to call events, their delivery logs and manual re-delivery. Each API key
/// sees and manages only the subscriptions it created.</summary>
public static class WebhooksApi
{
    public static RouteGroupBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/webhooks")
            .WithTags("Webhooks")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("", CreateWebhook)
            .WithName("CreateWebhook")
            .WithSummary("Subscribe to call events")
            .WithDescription("Registers an endpoint that receives the call events the API key may see (optionally only some types, or only " +
                             "calls at one address), POSTed as Standard Webhooks: signed with the returned secret, at least once, in order " +
                             "per subscription, retried with backoff for 27½ hours by default. The secret is shown only in this answer.")
            .Accepts<CreateWebhookRequest>("application/json")
            .WithProblem(StatusCodes.Status400BadRequest, "Invalid input (validation-failed with per-field errors): e.g. a URL that is not https or points at a private address.")
            .WithProblem(StatusCodes.Status403Forbidden, "The address filter is outside the API key's scope (out-of-scope).")
            .WithProblem(StatusCodes.Status409Conflict, "The API key holds Gateway:Webhooks:MaxSubscriptionsPerKey subscriptions already (webhook-limit-reached).")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithRequestExample(WebhookExamples.CreateRequest)
            .WithResponseDescription(StatusCodes.Status201Created, "Created: the subscription and its signing secret (shown only now).")
            .WithResponseExample(StatusCodes.Status201Created, WebhookExamples.CreatedSubscription)
            .WithResponseExample(StatusCodes.Status400BadRequest, WebhookExamples.ValidationProblem);

        group.MapGet("", ListWebhooks)
            .WithName("ListWebhooks")
            .WithSummary("List webhook subscriptions")
            .WithDescription("The API key's subscriptions, oldest first, without their secrets.")
            .WithResponseExample(StatusCodes.Status200OK, new WebhookSubscriptionList([WebhookExamples.Subscription]));

        group.MapGet("/{id}", GetWebhook)
            .WithName("GetWebhook")
            .WithSummary("Get a webhook subscription")
            .WithProblem(StatusCodes.Status404NotFound, NotFoundDescription)
            .WithResponseExample(StatusCodes.Status200OK, WebhookExamples.Subscription);

        group.MapDelete("/{id}", DeleteWebhook)
            .WithName("DeleteWebhook")
            .WithSummary("Delete a webhook subscription")
            .WithDescription("Stops deliveries at once and deletes the subscription's delivery log.")
            .WithResponseDescription(StatusCodes.Status204NoContent, "Deleted.")
            .WithProblem(StatusCodes.Status404NotFound, NotFoundDescription);

        group.MapPost("/{id}/rotate-secret", RotateSecret)
            .WithName("RotateWebhookSecret")
            .WithSummary("Rotate a subscription's signing secret")
            .WithDescription("Returns a new secret. For Gateway:Webhooks:SecretRotationOverlap (24 h) deliveries carry two signatures, one " +
                             "with each secret, so receivers can switch without losing a delivery.")
            .WithProblem(StatusCodes.Status404NotFound, NotFoundDescription)
            .WithResponseExample(StatusCodes.Status200OK, WebhookExamples.RotatedSubscription);

        group.MapGet("/{id}/deliveries", ListDeliveries)
            .WithName("ListWebhookDeliveries")
            .WithSummary("List a subscription's deliveries")
            .WithDescription("The delivery log, newest first: per event its attempts, last status code or error, next attempt and state. " +
                             "Finished deliveries are kept for Gateway:Webhooks:DeliveryRetention (7 days).")
            .WithProblem(StatusCodes.Status400BadRequest, "Invalid state, cursor or limit (validation-failed).")
            .WithProblem(StatusCodes.Status404NotFound, NotFoundDescription)
            .WithResponseExample(StatusCodes.Status200OK, WebhookExamples.DeliveryPage);

        group.MapGet("/{id}/deliveries/{deliveryId}", GetDelivery)
            .WithName("GetWebhookDelivery")
            .WithSummary("Get a delivery")
            .WithProblem(StatusCodes.Status404NotFound, DeliveryNotFoundDescription)
            .WithResponseExample(StatusCodes.Status200OK, WebhookExamples.FailedDelivery);

        group.MapPost("/{id}/deliveries/{deliveryId}/redeliver", Redeliver)
            .WithName("RedeliverWebhook")
            .WithSummary("Deliver an event again")
            .WithDescription("A finished delivery (succeeded or failed) is queued again as a new delivery with the same webhook-id and body, " +
                             "after the subscription's pending ones. A pending delivery is attempted now instead of at its next retry time, " +
                             "together with the pending deliveries before it (they keep their order).")
            .WithProblem(StatusCodes.Status404NotFound, DeliveryNotFoundDescription)
            .WithProblem(StatusCodes.Status409Conflict, "The subscription is disabled (webhook-disabled): its endpoint answered 410 Gone.")
            .WithResponseDescription(StatusCodes.Status202Accepted, "Accepted: the delivery that will carry the event (see Location).")
            .WithResponseExample(StatusCodes.Status202Accepted, WebhookExamples.RedeliveredDelivery);

        return group;
    }

    private const string NotFoundDescription = "No subscription with this id belongs to the API key (webhook-not-found).";
    private const string DeliveryNotFoundDescription = "Unknown subscription (webhook-not-found) or delivery (delivery-not-found).";

    public static async Task<Results<Created<WebhookSubscriptionWithSecret>, ValidationProblem, ProblemHttpResult>> CreateWebhook(
        JsonBody<CreateWebhookRequest> body, [AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        var request = body.Value;
        var errors = WebhookValidation.ValidateCreate(request, out var eventTypes, out var address);
        var (url, urlError) = await services.Targets.CheckAsync(request?.Url, cancellationToken);
        if (urlError is not null) errors["url"] = [urlError];
        if (body.Merge(errors).Count > 0) return Problems.Validation(errors);
        if (address is not null && !await services.InScopeAsync(address))
            return Problems.Result(ProblemTypes.OutOfScope, $"The API key does not act for '{address}'.");
        if (await services.Store.CountSubscriptionsAsync(services.Owner, cancellationToken) >= services.Options.Value.MaxSubscriptionsPerKey)
            return Problems.Result(ProblemTypes.WebhookLimitReached,
                $"This API key may hold {services.Options.Value.MaxSubscriptionsPerKey} webhook subscriptions; delete one first.");

        var subscription = await services.Store.CreateSubscriptionAsync(services.Owner, url!.AbsoluteUri, eventTypes, address, request!.Description,
            WebhookSignature.NewKey(), cancellationToken);
        return TypedResults.Created(Location(subscription.Id), subscription.ToResourceWithSecret(services.Time.GetUtcNow()));
    }

    public static async Task<Ok<WebhookSubscriptionList>> ListWebhooks([AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var subscriptions = await services.Store.ListSubscriptionsAsync(services.Owner, cancellationToken);
        return TypedResults.Ok(new WebhookSubscriptionList([.. subscriptions.Select(s => s.ToResource(now))]));
    }

    public static async Task<Results<Ok<WebhookSubscription>, ProblemHttpResult>> GetWebhook(
        [Description("The subscription's id.")] string id, [AsParameters] WebhookServices services, CancellationToken cancellationToken) =>
        await services.Store.GetSubscriptionAsync(services.Owner, id, cancellationToken) is { } subscription
            ? TypedResults.Ok(subscription.ToResource(services.Time.GetUtcNow()))
            : WebhookNotFound(id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteWebhook(
        [Description("The subscription's id.")] string id, [AsParameters] WebhookServices services, CancellationToken cancellationToken) =>
        await services.Store.DeleteSubscriptionAsync(services.Owner, id, cancellationToken) ? TypedResults.NoContent() : WebhookNotFound(id);

    public static async Task<Results<Ok<WebhookSubscriptionWithSecret>, ProblemHttpResult>> RotateSecret(
        [Description("The subscription's id.")] string id, [AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var rotated = await services.Store.RotateKeyAsync(services.Owner, id, WebhookSignature.NewKey(), now + services.Options.Value.SecretRotationOverlap, cancellationToken);
        return rotated is null ? WebhookNotFound(id) : TypedResults.Ok(rotated.ToResourceWithSecret(now));
    }

    public static async Task<Results<Ok<WebhookDeliveryPage>, ValidationProblem, ProblemHttpResult>> ListDeliveries(
        [Description("The subscription's id.")] string id, [AsParameters] WebhookServices services, CancellationToken cancellationToken,
        [Description("Only deliveries in this state: pending, succeeded or failed.")] string? state = null,
        [Description("The nextCursor of the previous page.")] string? cursor = null,
        [Description("Page size, 1 to 100 (default 50).")] int? limit = null)
    {
        var errors = WebhookValidation.ValidateDeliveryList(state, cursor, limit, out var parsedState, out var before, out var pageSize);
        if (errors.Count > 0) return Problems.Validation(errors);
        if (await services.Store.GetSubscriptionAsync(services.Owner, id, cancellationToken) is null) return WebhookNotFound(id);
        var (items, next) = await services.Store.ListDeliveriesAsync(id, parsedState, before, pageSize, cancellationToken);
        return TypedResults.Ok(new WebhookDeliveryPage(items, next is { } n ? WebhookValidation.EncodeDeliveryCursor(n) : null));
    }

    public static async Task<Results<Ok<WebhookDelivery>, ProblemHttpResult>> GetDelivery(
        [Description("The subscription's id.")] string id, [Description("The delivery's id.")] string deliveryId,
        [AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        if (await services.Store.GetSubscriptionAsync(services.Owner, id, cancellationToken) is null) return WebhookNotFound(id);
        return await services.Store.GetDeliveryAsync(id, deliveryId, cancellationToken) is { } delivery
            ? TypedResults.Ok(delivery)
            : DeliveryNotFound(id, deliveryId);
    }

    public static async Task<Results<Accepted<WebhookDelivery>, ProblemHttpResult>> Redeliver(
        [Description("The subscription's id.")] string id, [Description("The delivery's id.")] string deliveryId,
        [AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        if (await services.Store.GetSubscriptionAsync(services.Owner, id, cancellationToken) is null) return WebhookNotFound(id);
        var (outcome, delivery) = await services.Store.RedeliverAsync(id, deliveryId, cancellationToken);
        switch (outcome)
        {
            case RedeliveryOutcome.NotFound:
                return DeliveryNotFound(id, deliveryId);
            case RedeliveryOutcome.SubscriptionDisabled:
                return Problems.Result(ProblemTypes.WebhookDisabled,
                    $"Subscription '{id}' is disabled (its endpoint answered 410 Gone); register the endpoint again to receive events.");
            default:
                services.Dispatcher.Wake();
                return TypedResults.Accepted($"{Location(id)}/deliveries/{Uri.EscapeDataString(delivery!.Id)}", delivery);
        }
    }

    private static string Location(string id) => $"/webhooks/{Uri.EscapeDataString(id)}";

    private static ProblemHttpResult WebhookNotFound(string id) =>
        Problems.Result(ProblemTypes.WebhookNotFound, $"No webhook subscription '{id}' belongs to this API key.");

    private static ProblemHttpResult DeliveryNotFound(string id, string deliveryId) =>
        Problems.Result(ProblemTypes.DeliveryNotFound, $"Subscription '{id}' has no delivery '{deliveryId}' (finished deliveries are kept for a limited time).");
}

/// <summary>Request validation of the webhook endpoints (the URL's own checks are <see cref="WebhookTargetGuard.CheckAsync"/>);
/// errors are keyed by JSON member name.</summary>
public static class WebhookValidation
{
    public const int MaxDescriptionLength = 256;
    private const string CursorKind = "deliveries";

    public static Dictionary<string, string[]> ValidateCreate(CreateWebhookRequest? request, out IReadOnlyList<string>? eventTypes, out string? address)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        eventTypes = null;
        address = null;
        if (request is null)
        {
            errors["body"] = ["A JSON object {\"url\", \"eventTypes\"?, \"address\"?, \"description\"?} is required."];
            return errors;
        }
        if (request.EventTypes is { } types)
        {
            var unknown = types.Where(t => t is null || !CallEventTypes.All.Contains(t, StringComparer.Ordinal)).Select(t => t ?? "null").ToList();
            if (types.Count == 0) errors["eventTypes"] = ["must list at least one event type; leave it out for every type."];
            else if (unknown.Count > 0) errors["eventTypes"] = [$"has unknown types ({string.Join(", ", unknown)}); known: {string.Join(", ", CallEventTypes.All)}."];
            else eventTypes = [.. types.Distinct(StringComparer.Ordinal)];
        }
        if (request.Address is not null)
        {
            address = SipUri.AddressOf(request.Address);
            if (address is null) errors["address"] = ["must be a SIP address (user@domain or sip:user@domain)."];
        }
        if (request.Description is { Length: > MaxDescriptionLength }) errors["description"] = [$"must be at most {MaxDescriptionLength} characters."];
        return errors;
    }

    public static Dictionary<string, string[]> ValidateDeliveryList(string? state, string? cursor, int? limit,
        out DeliveryState? parsedState, out long before, out int pageSize)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        parsedState = null;
        before = 0;
        pageSize = limit ?? CallValidation.DefaultPageSize;
        if (state is not null)
        {
            parsedState = Enum.GetValues<DeliveryState>().Where(s => WebhookStoreFormat.StateText(s) == state).Select(s => (DeliveryState?)s).FirstOrDefault();
            if (parsedState is null) errors["state"] = ["must be one of: pending, succeeded, failed."];
        }
        if (cursor is not null && !CallValidation.TryDecodeCursor(CursorKind, cursor, out before)) errors["cursor"] = ["is not a cursor this API returned."];
        if (pageSize is < 1 or > CallValidation.MaxPageSize) errors["limit"] = [$"must be between 1 and {CallValidation.MaxPageSize}."];
        return errors;
    }

    public static string EncodeDeliveryCursor(long position) => CallValidation.EncodeCursor(CursorKind, position);
}
