using System.ComponentModel;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Commands;
using Gateway.Api.Errors;
using Gateway.Api.Idempotency;
using Gateway.Api.Json;
using Gateway.Api.OpenApi;
using Gateway.Xmpp.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Api.Calls;

/// <summary>What the call handlers need, bound with <c>[AsParameters]</c>.</summary>
public sealed class CallServices(CallRegistry registry, IActiveCallsCommands commands, IAuthorizationService authorization, ClaimsPrincipal user, ILogger<CallServices> logger)
{
    public ILogger<CallServices> Logger { get; } = logger;
    public CallRegistry Registry { get; } = registry;
    public IActiveCallsCommands Commands { get; } = commands;
    public IAuthorizationService Authorization { get; } = authorization;
    public ClaimsPrincipal User { get; } = user;

    /// <summary>Whether the API key covers the addresses (<paramref name="requireAll"/>: each of them; else any).</summary>
    public async Task<bool> InScopeAsync(IReadOnlyCollection<string?> addresses, bool requireAll) =>
        (await Authorization.AuthorizeAsync(User, new AddressResource(addresses, requireAll), AddressScopeRequirement.Policy)).Succeeded;

    public Task<bool> CanSeeAsync(CallResource call) => InScopeAsync([.. CallRegistry.AddressesOf(call)], requireAll: false);

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
                             "state and events. Send an Idempotency-Key to make retries safe.")
            .WithMetadata(new IdempotentAttribute())
            .Accepts<CreateCallRequest>("application/json")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithResponseDescription(StatusCodes.Status403Forbidden,
                "The API key does not act for 'from' (out-of-scope); may not call 'to', or 'from' when it is a phone number " +
                "(destination-not-allowed: outside the key's Destinations, nothing was sent); or the service refused (component-forbidden).")
            .WithResponseExample(StatusCodes.Status403Forbidden, OpenApiExamples.DestinationNotAllowedProblem)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesCommandProblems()
            .WithRequestExample(OpenApiExamples.CreateCallRequest)
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.RequestedCall)
            .WithResponseExample(StatusCodes.Status400BadRequest, OpenApiExamples.ValidationProblem)
            .WithResponseExample(StatusCodes.Status422UnprocessableEntity, OpenApiExamples.CommandFailedProblem)
            .WithResponseExample(StatusCodes.Status503ServiceUnavailable, OpenApiExamples.ComponentUnavailableProblem);

        group.MapGet("", ListCalls)
            .WithName("ListCalls")
            .WithSummary("List calls")
            .WithDescription("Calls the API key may see (any party or leg in its scope), oldest first. Without 'state', ended calls are left out.")
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
            .WithDescription("The call's event history in sequence order (at most the last Gateway:Registry:MaxEventsPerCall). 'after' returns only later events.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithResponseExample(StatusCodes.Status200OK, OpenApiExamples.EventList);

        group.MapDelete("/{id}", HangUpCall)
            .WithName("HangUpCall")
            .WithSummary("Hang up a call")
            .WithDescription("Sends 'terminate' for each answered dialog and 'cancel' for each ringing one. A call with no leg yet " +
                             "is cancelled as soon as its first leg appears. Idempotent: hanging up an ended call answers 202 with its " +
                             "final state and sends nothing.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesCommandProblems()
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.ConnectedCall);

        group.MapPost("/{id}/transfer", TransferCall)
            .WithName("TransferCall")
            .WithSummary("Transfer a call")
            .WithDescription("Moves the caller or the callee of a connected call to 'target' and hangs up the other party. " +
                             "The outcome shows in the call's later events. Send an Idempotency-Key to make retries safe.")
            .WithMetadata(new IdempotentAttribute())
            .Accepts<TransferCallRequest>("application/json")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithResponseDescription(StatusCodes.Status403Forbidden,
                "The API key covers none of the call's addresses (out-of-scope); may not call 'target' (destination-not-allowed: " +
                "outside the key's Destinations, nothing was sent); or the service refused (component-forbidden).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesCommandProblems()
            .WithRequestExample(OpenApiExamples.TransferRequest)
            .WithResponseExample(StatusCodes.Status202Accepted, OpenApiExamples.ConnectedCall);

        return group;
    }

    private static RouteHandlerBuilder ProducesCommandProblems(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status502BadGateway)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
        .ProducesProblem(StatusCodes.Status504GatewayTimeout);

    public static async Task<Results<Accepted<CallResource>, ValidationProblem, ProblemHttpResult>> CreateCall(
        JsonBody<CreateCallRequest> body, [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        var errors = body.Merge(CallValidation.ValidateCreate(body.Value, out var from, out var to, out var callSetupId));
        if (errors.Count > 0) return Problems.Validation(errors);
        if (!await services.InScopeAsync([from], requireAll: true))
            return Problems.Result(ProblemTypes.OutOfScope, $"The API key does not act for '{from}'.");
        // The caller is rung first: a phone number there is dialled like any destination.
        if (DestinationScope.IsPhoneNumber(from) && services.RefuseDestination("from", from) is { } refusedCaller) return refusedCaller;
        if (services.RefuseDestination("to", to) is { } refused) return refused;

        callSetupId ??= CallValidation.NewCallSetupId();
        CreateTicket ticket;
        try
        {
            ticket = services.Registry.BeginCreate(callSetupId, from, to, services.KeyName);
        }
        catch (CallSetupIdInUseException)
        {
            return Problems.Result(ProblemTypes.CallSetupIdInUse, $"A call with call-setup-id '{callSetupId}' already exists; choose another or leave it out.",
                new Dictionary<string, object?> { ["callSetupId"] = callSetupId });
        }

        try
        {
            var resultId = await services.Commands.CreateAsync(from, to, callSetupId, cancellationToken);
            var call = services.Registry.CompleteCreate(ticket, resultId);
            return TypedResults.Accepted($"/calls/{Uri.EscapeDataString(call.Id)}", call);
        }
        catch (CommandFailedException e)
        {
            var unknown = e.InnerException is XmppIqTimeoutException or XmppConnectionLostException { NeverSent: false };
            services.Registry.AbandonCreate(ticket, outcomeUnknown: unknown);
            if (unknown) e.CallSetupId = callSetupId;
            throw;
        }
        catch (OperationCanceledException)
        {
            services.Registry.AbandonCreate(ticket, outcomeUnknown: true);
            throw;
        }
    }

    public static Results<Ok<CallPage>, ValidationProblem> ListCalls(
        [AsParameters] CallServices services,
        [Description("Only calls with a party or leg at this SIP address (user@domain or sip:user@domain).")] string? address = null,
        [Description("Only calls in this state (requested, caller-ringing, caller-answered, callee-ringing, connected, ended); by default every state but ended.")] string? state = null,
        [Description("The nextCursor of the previous page.")] string? cursor = null,
        [Description("Page size, 1 to 100 (default 50).")] int? limit = null)
    {
        var errors = CallValidation.ValidateList(address, state, cursor, limit, out var parsedState, out var after, out var pageSize);
        if (errors.Count > 0) return Problems.Validation(errors);
        var scope = services.Scope;
        var (items, next) = services.Registry.List(address, parsedState, after, pageSize, call => scope.AllowsAny(CallRegistry.AddressesOf(call)));
        return TypedResults.Ok(new CallPage(items, next is { } n ? CallValidation.EncodeCursor(n) : null));
    }

    public static async Task<Results<Ok<CallResource>, ProblemHttpResult>> GetCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services)
    {
        if (services.Registry.Find(id) is not { } call) return CallNotFound(id);
        if (!await services.CanSeeAsync(call)) return OutOfScope(call);
        return TypedResults.Ok(call);
    }

    public static async Task<Results<Ok<CallEventList>, ProblemHttpResult>> GetCallEvents(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services,
        [Description("Only events with a greater sequence number.")] long after = 0)
    {
        if (services.Registry.GetEvents(id, after) is not { } found) return CallNotFound(id);
        if (!await services.CanSeeAsync(found.Call)) return OutOfScope(found.Call);
        return TypedResults.Ok(new CallEventList(found.Call.Id, found.Events));
    }

    public static async Task<Results<Accepted<CallResource>, ProblemHttpResult>> HangUpCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        var plan = services.Registry.PlanHangup(id);
        switch (plan)
        {
            case null:
                return CallNotFound(id);
            case HangupPlan.AlreadyEnded ended:
                return await services.CanSeeAsync(ended.Call) ? Accepted(ended.Call) : OutOfScope(ended.Call);
            case HangupPlan.NotReady notReady:
                if (!await services.CanSeeAsync(notReady.Call)) return OutOfScope(notReady.Call);
                // No dialog yet (the create was accepted, no leg seen): cancel the first leg as soon as it shows up,
                // instead of failing with a race the client cannot win.
                return Accepted(services.Registry.DeferHangup(notReady.Call.Id) ?? notReady.Call);
            case HangupPlan.Send send:
                if (!await services.CanSeeAsync(send.Call)) return OutOfScope(send.Call);
                var terminate = send.Commands.Any(c => c.IsTerminate);
                services.Registry.BeginHangup(send.Call.Id, terminate);
                var sent = 0;
                try
                {
                    foreach (var command in send.Commands)
                    {
                        try
                        {
                            if (command.IsTerminate) await services.Commands.TerminateAsync(command.CallId, command.FromTag, command.ToTag!, cancellationToken);
                            else await services.Commands.CancelAsync(command.CallId, command.FromTag, cancellationToken);
                            sent++;
                        }
                        catch (CommandFailedException e) when (sent > 0 && e.InnerException is XmppStanzaErrorException)
                        {
                            // A component that ends the whole call on the first command (a B2BUA such as the reference
                            // service) no longer knows the other dialogs: their refusal is the goal reached.
                            services.Logger.LogDebug("Hang-up of {CallId}: {Command} refused after an earlier command succeeded ({Reason})",
                                send.Call.Id, command.IsTerminate ? "terminate" : "cancel", e.InnerException.Message);
                        }
                    }
                }
                catch (CommandFailedException e) when (e.InnerException is XmppStanzaErrorException &&
                                                       services.Registry.Find(send.Call.Id) is { State: CallState.Ended } endedMeanwhile)
                {
                    // The call ended while we were hanging it up: that is what the client wanted, not an error.
                    return Accepted(endedMeanwhile);
                }
                catch
                {
                    services.Registry.AbandonHangup(send.Call.Id);
                    throw;
                }
                services.Registry.RecordHangupRequested(send.Call.Id, terminate);
                return Accepted(services.Registry.Find(send.Call.Id) ?? send.Call);
            default:
                throw new InvalidOperationException("Unknown hang-up plan.");
        }
    }

    public static async Task<Results<Accepted<CallResource>, ValidationProblem, ProblemHttpResult>> TransferCall(
        [Description("The call's id or the SIP Call-ID of one of its legs.")] string id, JsonBody<TransferCallRequest> body,
        [AsParameters] CallServices services, CancellationToken cancellationToken)
    {
        var errors = body.Merge(CallValidation.ValidateTransfer(body.Value, out var endpoint, out var target));
        if (errors.Count > 0) return Problems.Validation(errors);
        if (services.Registry.Find(id) is not { } call) return CallNotFound(id);
        if (!await services.CanSeeAsync(call)) return OutOfScope(call);
        if (services.RefuseDestination("target", target) is { } refused) return refused;
        if (services.Registry.FindTransferDialog(call.Id) is not { } dialog)
            return Problems.Result(ProblemTypes.CallNotConnected, $"The call is {CallRegistry.StateName(call.State)}; only a connected call can be transferred.",
                new Dictionary<string, object?> { ["callId"] = call.Id, ["state"] = CallRegistry.StateName(call.State) });

        await services.Commands.TransferAsync(dialog.CallId, dialog.FromTag, dialog.ToTag, endpoint, target, cancellationToken);
        services.Registry.RecordTransferRequested(call.Id);
        return Accepted(services.Registry.Find(call.Id) ?? call);
    }

    /// <summary>The 403 for a <paramref name="destination"/> (the request's <paramref name="member"/>) the key may not call.</summary>
    public static ProblemDetails DestinationNotAllowed(string member, string destination) =>
        Problems.Create(ProblemTypes.DestinationNotAllowed, $"The API key may not call '{destination}' ('{member}' is outside its destinations).",
            new Dictionary<string, object?> { ["member"] = member, ["destination"] = destination });

    private static Accepted<CallResource> Accepted(CallResource call) => TypedResults.Accepted($"/calls/{Uri.EscapeDataString(call.Id)}", call);

    private static ProblemHttpResult CallNotFound(string id) =>
        Problems.Result(ProblemTypes.CallNotFound, $"No call with id or SIP Call-ID '{id}' is known (ended calls are kept for a limited time).");

    private static ProblemHttpResult OutOfScope(CallResource call) =>
        Problems.Result(ProblemTypes.OutOfScope, $"The API key covers none of the addresses of call '{call.Id}'.");
}
