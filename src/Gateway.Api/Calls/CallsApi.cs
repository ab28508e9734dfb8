using System.ComponentModel;
using System.Globalization;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Calls.Commands;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Gateway.Api.Idempotency;
using Gateway.Api.Json;
using Gateway.Api.OpenApi;
using Gateway.Api.Webhooks;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls;

/// <summary>What the call handlers need, bound with <c>[AsParameters]</c>.</summary>
public sealed class CallServices(
    CallTracker calls, CallCommandService commands, FollowedUsers followed, IAuthorizationService authorization, ClaimsPrincipal user,
    IOptions<HttpApiOptions> http, ILogger<CallServices> logger)
{
    public ILogger<CallServices> Logger { get; } = logger;
    public CallTracker Calls { get; } = calls;
    public CallCommandService Commands { get; } = commands;
    public FollowedUsers Followed { get; } = followed;
    public IAuthorizationService Authorization { get; } = authorization;
    public ClaimsPrincipal User { get; } = user;

    public IOptions<HttpApiOptions> Http { get; } = http;

    /// <summary>What a 503 advises in <c>Retry-After</c>.</summary>
    public TimeSpan RetryAfter => Http.Value.UnavailableRetryAfter;

    /// <summary>Whether the API key covers the addresses (<paramref name="requireAll"/>: each of them; else any).</summary>
    public async Task<bool> InScopeAsync(IReadOnlyCollection<string?> addresses, bool requireAll) =>
        (await Authorization.AuthorizeAsync(User, new AddressResource(addresses, requireAll), AddressScopeRequirement.Policy)).Succeeded;

    public Task<bool> CanSeeAsync(CallResource call) => InScopeAsync([.. CallAddresses.Of(call)], requireAll: false);

    internal string? KeyName => User.KeyName();

    internal AddressScope Scope => User.Scope();

    /// <summary>Null when the key may call <paramref name="destination"/> (the request's <paramref name="member"/>),
    /// else the 403 to answer, before any XMPP traffic.</summary>
    internal ProblemHttpResult? RefuseDestination(string member, string destination)
    {
        var destinations = User.Destinations();
        if (destinations.Allows(destination)) return null;
        Logger.LogWarning("API key {Key} may not call {Destination} ('{Member}'); its destinations: {Destinations}",
            KeyName, destination, member, string.Join(", ", destinations.Patterns));
        return TypedResults.Problem(CallsApi.DestinationNotAllowed(member, destination));
    }

    /// <summary>Null when a call from <paramref name="from"/> will show its events (a followed user covers it) or the
    /// policy places it anyway, else the 422 to answer, before any XMPP traffic: such a call would otherwise sit in
    /// <c>requested</c> until its setup timeout, whatever the phones do.</summary>
    internal ProblemHttpResult? RefuseUnfollowed(string from)
    {
        if (Followed.Follows(from)) return null;
        if (Followed.UnfollowedFrom == UnfollowedFromPolicy.Allow)
        {
            Logger.LogWarning("API key {Key} places a call from {From}, which no followed user covers: it gets no events, only what the commands say", KeyName, from);
            return null;
        }
        Logger.LogInformation("Refused a call from {From} for API key {Key}: no followed user covers it", from, KeyName);
        return Problems.Result(ProblemTypes.FromNotFollowed,
            $"The gateway follows no user covering '{from}', so its call would get no events. Follow it, or a user of the same owner " +
            "with auth-for-all (Gateway:Events:Users).", new Dictionary<string, object?> { ["from"] = from });
    }
}

/// <summary><c>/calls</c>: place, list, read, hang up and transfer calls.</summary>
public static class CallsApi
{
    public static RouteGroupBuilder MapCallsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/calls")
            .WithTags("Calls")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("", CreateCall)
            .WithName("CreateCall")
            .WithSummary("Place a call")
            .WithDescription("Rings 'from'; when it answers, connects it to 'to' (third-party call control). Sends one single-stage " +
                             "'create' command and answers 202 as soon as the Active-Calls service accepted it: progress shows in the call's " +
                             "state and events. Send an Idempotency-Key to make retries safe. With a statusCallback, every event of the call is also " +
                             "POSTed there (signed, in order, retried; see the Webhooks section).")
            .WithMetadata(new IdempotentAttribute())
            .Accepts<CreateCallRequest>("application/json")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithResponseDescription(StatusCodes.Status403Forbidden,
                "The API key does not act for 'from' (out-of-scope); may not call 'to', or 'from' when it is a phone number " +
                "(destination-not-allowed: outside the key's Destinations, nothing was sent); or the service refused (component-forbidden).")
            .WithResponseExample(StatusCodes.Status403Forbidden, OpenApiExamples.DestinationNotAllowedProblem)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseDescription(StatusCodes.Status409Conflict,
                "The call-setup-id is taken (call-setup-id-in-use); or a statusCallback was named before the API key has a " +
                "status-callback secret (status-callback-secret-required: POST /webhooks/status-callback-secret first).")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithResponseDescription(StatusCodes.Status422UnprocessableEntity,
                "No followed user covers 'from' (from-not-followed: its call would get no events, nothing was sent; see " +
                "Gateway:Events:UnfollowedFrom); the service rejected the fields (command-rejected) or could not carry it out " +
                "(command-failed); or the Idempotency-Key was used with another request (idempotency-key-reused).")
            .ProducesCommandProblems()
            .WithResponseDescription(StatusCodes.Status503ServiceUnavailable,
                "No XMPP connection, component not connected, or circuit breaker open (xmpp-unavailable, component-unavailable); or an " +
                "earlier create with this call-setup-id (or Idempotency-Key) may have placed the call and the gateway does not know yet " +
                "(create-outcome-unknown: retrying then answers with that call, or sends the create if it placed none). See Retry-After.")
            .WithRequestExample(OpenApiExamples.CreateCallRequest)
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.RequestedCall)
            .WithResponseExample(StatusCodes.Status400BadRequest, OpenApiExamples.ValidationProblem)
            .WithResponseExample(StatusCodes.Status422UnprocessableEntity, OpenApiExamples.CommandFailedProblem)
            .WithResponseExample(StatusCodes.Status503ServiceUnavailable, OpenApiExamples.ComponentUnavailableProblem);

        group.MapGet("", ListCalls)
            .WithName("ListCalls")
            .WithSummary("List calls")
            .WithDescription("Calls the API key may see (any party or leg in its scope), oldest first. Without 'state', ended calls are left out; " +
                             "'state=ended' with the time filters reads the call history (kept for Gateway:Calls:EndedRetention, 30 days by default).")
            .WithResponseExample(StatusCodes.Status200OK, OpenApiExamples.CallPage);

        group.MapGet("/{id}", GetCall)
            .WithName("GetCall")
            .WithSummary("Get a call")
            .WithDescription("By the call's id (its call-setup-id) or by the SIP Call-ID of one of its legs.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithResponseExample(StatusCodes.Status200OK, OpenApiExamples.ConnectedCall)
            .WithResponseExample(StatusCodes.Status404NotFound, OpenApiExamples.CallNotFoundProblem);

        group.MapGet("/{id}/events", GetCallEvents)
            .WithName("GetCallEvents")
            .WithSummary("Get a call's events")
            .WithDescription("The call's event history in sequence order, also for ended calls of the history. 'after' returns only later events.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithResponseExample(StatusCodes.Status200OK, OpenApiExamples.EventList);

        group.MapDelete("/{id}", HangUpCall)
            .WithName("HangUpCall")
            .WithSummary("Hang up a call")
            .WithDescription("Written down first, then carried out until done: 'terminate' for each answered dialog and 'cancel' for each " +
                             "ringing one. A call with no leg yet is cancelled as soon as its first leg appears; while the XMPP server or the " +
                             "component is unreachable the hang-up is retried with backoff, across gateway restarts. Answers 202 after the first " +
                             "attempt (or Gateway:Calls:IntentAnswerWait); progress shows as call.hangup-requested, then call.ended or " +
                             "call.hangup-failed. Idempotent: hanging up again, or an ended call, sends nothing more.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesCommandProblems()
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.ConnectedCall);

        group.MapPost("/{id}/transfer", TransferCall)
            .WithName("TransferCall")
            .WithSummary("Transfer a call")
            .WithDescription("Moves the caller or the callee of a connected call to 'target' and hangs up the other party. " +
                             "Written down first and carried out until done, like a hang-up; the outcome shows in the call's later events " +
                             "(call.transfer-requested, then the legs' changes, or call.transfer-failed). Send an Idempotency-Key to make retries safe.")
            .WithMetadata(new IdempotentAttribute())
            .Accepts<TransferCallRequest>("application/json")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithResponseDescription(StatusCodes.Status403Forbidden,
                "The API key covers none of the call's addresses (out-of-scope); may not call 'target' (destination-not-allowed: " +
                "outside the key's Destinations, nothing was sent); or the service refused (component-forbidden).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesCommandProblems()
            .WithRequestExample(OpenApiExamples.TransferRequest)
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.ConnectedCall);

        return group;
    }

    public static async Task<Results<Accepted<CallResource>, ValidationProblem, ProblemHttpResult>> CreateCall(
        JsonBody<CreateCallRequest> body, [AsParameters] CallServices services, StatusCallbackRequests statusCallbacks, HttpContext http,
        CancellationToken cancellationToken)
    {
        var errors = body.Merge(CallValidation.ValidateCreate(body.Value, out var from, out var to, out var callSetupId));
        var statusCallback = await statusCallbacks.ValidateAsync(body.Value, errors, cancellationToken);
        if (errors.Count > 0) return Problems.Validation(errors);
        if (!await services.InScopeAsync([from], requireAll: true))
            return Problems.Result(ProblemTypes.OutOfScope, $"The API key does not act for '{from}'.");
        // The caller is rung first: a phone number there is dialled like any destination.
        if (DestinationScope.IsPhoneNumber(from) && services.RefuseDestination("from", from) is { } refusedCaller) return refusedCaller;
        if (services.RefuseDestination("to", to) is { } refused) return refused;
        if (services.RefuseUnfollowed(from) is { } unfollowed) return unfollowed;
        if (statusCallback is not null && !await statusCallbacks.HasSecretAsync(services.KeyName!, cancellationToken))
            return Problems.Result(ProblemTypes.StatusCallbackSecretRequired,
                "A statusCallback's deliveries are signed with the API key's status-callback secret, and this key has none yet: " +
                "create it with POST /webhooks/status-callback-secret, then place the call again.");

        // The idempotency middleware validated the key: one value.
        var idempotencyKey = http.Request.Headers[IdempotencyMiddleware.HeaderName].ToString() is { Length: > 0 } key ? key : null;
        callSetupId ??= idempotencyKey is null ? CallValidation.NewCallSetupId() : CallValidation.CallSetupIdFor(services.KeyName, idempotencyKey, from, to);
        try
        {
            var call = await services.Commands.CreateAsync(from, to, callSetupId, services.KeyName, statusCallback, cancellationToken);
            return Accepted(call.ToResource());
        }
        catch (CallSetupIdInUseException)
        {
            // A retry that executes again (its first try's answer was lost: the gateway restarted, or a 503 left the
            // outcome unknown) finds the call its first try placed: that call is its answer, not a conflict.
            if (idempotencyKey is not null && await services.Calls.FindAsync(callSetupId, cancellationToken) is { IsEnded: false } placed &&
                placed.Owner == services.KeyName && placed.From == from && placed.To == to)
                return Accepted(placed.ToResource());
            return Problems.Result(ProblemTypes.CallSetupIdInUse, $"A call with call-setup-id '{callSetupId}' already exists; choose another or leave it out.",
                new Dictionary<string, object?> { ["callSetupId"] = callSetupId });
        }
        catch (CreateOutcomeUnknownException)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(services.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Problems.Result(ProblemTypes.CreateOutcomeUnknown,
                $"An earlier create with call-setup-id '{callSetupId}' may have placed the call; the gateway sees its legs or learns that there " +
                "are none at its next reconciliation with the service. Retry later: you get the call, or the create is sent then.",
                new Dictionary<string, object?> { ["callSetupId"] = callSetupId });
        }
    }

    public static async Task<Results<Ok<CallPage>, ValidationProblem>> ListCalls(
        [AsParameters] CallServices services, [AsParameters] CallListQuery query, CancellationToken cancellationToken)
    {
        var errors = CallValidation.ValidateList(query, out var parsed);
        if (errors.Count > 0) return Problems.Validation(errors);
        var scope = services.Scope;
        var page = await services.Calls.ListAsync(parsed with { Visible = call => scope.AllowsAny(CallAddresses.Of(call)) }, cancellationToken);
        return TypedResults.Ok(new CallPage(page.Items, page.Next is { } n ? CallValidation.EncodeCursor(n) : null));
    }

    public static async Task<Results<Ok<CallResource>, ProblemHttpResult>> GetCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        if (await services.Calls.FindAsync(id, cancellationToken) is not { } found) return CallNotFound(id);
        var call = found.ToResource();
        if (!await services.CanSeeAsync(call)) return OutOfScope(call);
        return TypedResults.Ok(call);
    }

    public static async Task<Results<Ok<CallEventList>, ProblemHttpResult>> GetCallEvents(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services,
        CancellationToken cancellationToken, [Description("Only events with a greater sequence number.")] long after = 0)
    {
        if (await services.Calls.FindAsync(id, cancellationToken) is not { } found) return CallNotFound(id);
        var call = found.ToResource();
        if (!await services.CanSeeAsync(call)) return OutOfScope(call);
        return TypedResults.Ok(new CallEventList(call.Id, await services.Calls.EventsAsync(call.Id, after, cancellationToken)));
    }

    public static async Task<Results<Accepted<CallResource>, ProblemHttpResult>> HangUpCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        if (await services.Calls.FindAsync(id, cancellationToken) is not { } call) return CallNotFound(id);
        if (!await services.CanSeeAsync(call.ToResource())) return OutOfScope(call.ToResource());
        return Accepted((await services.Commands.HangUpAsync(call, cancellationToken)).ToResource());
    }

    public static async Task<Results<Accepted<CallResource>, ValidationProblem, ProblemHttpResult>> TransferCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, JsonBody<TransferCallRequest> body,
        [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        var errors = body.Merge(CallValidation.ValidateTransfer(body.Value, out var endpoint, out var target));
        if (errors.Count > 0) return Problems.Validation(errors);
        if (await services.Calls.FindAsync(id, cancellationToken) is not { } call) return CallNotFound(id);
        if (!await services.CanSeeAsync(call.ToResource())) return OutOfScope(call.ToResource());
        if (services.RefuseDestination("target", target) is { } refused) return refused;
        if (CallStateMachine.FindTransferDialog(call) is null)
            return Problems.Result(ProblemTypes.CallNotConnected, $"The call is {CallStateMachine.StateName(call.State)}; only a connected call can be transferred.",
                new Dictionary<string, object?> { ["callId"] = call.Id, ["state"] = CallStateMachine.StateName(call.State) });
        return Accepted((await services.Commands.TransferAsync(call, endpoint, target, cancellationToken)).ToResource());
    }

    /// <summary>The 403 for a <paramref name="destination"/> (the request's <paramref name="member"/>) the key may not call.</summary>
    public static ProblemDetails DestinationNotAllowed(string member, string destination) =>
        Problems.Create(ProblemTypes.DestinationNotAllowed, $"The API key may not call '{destination}' ('{member}' is outside its destinations).",
            new Dictionary<string, object?> { ["member"] = member, ["destination"] = destination });

    private static Accepted<CallResource> Accepted(CallResource call) => TypedResults.Accepted($"/calls/{Uri.EscapeDataString(call.Id)}", call);

    private static ProblemHttpResult CallNotFound(string id) =>
        Problems.Result(ProblemTypes.CallNotFound, $"No call with id or SIP Call-ID '{id}' is known (ended calls are kept for Gateway:Calls:EndedRetention).");

    private static ProblemHttpResult OutOfScope(CallResource call) =>
        Problems.Result(ProblemTypes.OutOfScope, $"The API key covers none of the addresses of call '{call.Id}'.");
}
