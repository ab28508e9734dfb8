using System.ComponentModel;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Errors;
using Gateway.Api.Json;
using Gateway.Api.OpenApi;
using Gateway.Api.Replicas;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Api.CallEventsSubscription;

/// <summary><c>/followed-users</c>: the SIP users whose calls the gateway follows, how each one's authorisation stands,
/// and adding, re-passwording and removing users without a restart. For administrators only (an API key with scope
/// <c>*</c>): it covers the whole team's addresses and takes their web passwords, which it never shows.</summary>
public static class FollowedUsersApi
{
    public static RouteGroupBuilder MapFollowedUsersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/followed-users")
            .WithTags("Followed users")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .AddEndpointFilter(RequireAdmin)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapGet("", ListFollowedUsers)
            .WithName("ListFollowedUsers")
            .WithSummary("List the followed users")
            .WithDescription("The SIP users whose calls the gateway follows (Gateway:Events, then those added here) with their authorisation: " +
                             "until when it holds, which addresses it covers (POST /calls refuses a 'from' none covers) and the last error. " +
                             "Passwords are never shown.")
            .WithResponseDescription(StatusCodes.Status403Forbidden, AdminOnly);

        group.MapPost("", AddFollowedUser)
            .WithName("AddFollowedUser")
            .WithSummary("Follow a SIP user")
            .WithDescription("Stores the user with its web password (encrypted at rest) and authorises it at once for the gateway's JID " +
                             "(authorize-plain, with auth-for-all when Gateway:Events:AuthForAll), so calls of its owner's addresses show up. " +
                             "The answer comes before that authorisation: its outcome shows in GET /followed-users.")
            .Accepts<AddFollowedUserRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseDescription(StatusCodes.Status403Forbidden, AdminOnly)
            .WithResponseDescription(StatusCodes.Status409Conflict, "The address is followed already (followed-user-exists).");

        group.MapPut("/{address}/password", SetFollowedUserPassword)
            .WithName("SetFollowedUserPassword")
            .WithSummary("Change a followed user's web password")
            .WithDescription("For a user added here (a configured one changes with the configuration): stores the new password and " +
                             "authorises the user again with it.")
            .Accepts<SetFollowedUserPasswordRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseDescription(StatusCodes.Status403Forbidden, AdminOnly)
            .WithResponseDescription(StatusCodes.Status409Conflict, "The user comes from the configuration (followed-user-configured).");

        group.MapDelete("/{address}", RemoveFollowedUser)
            .WithName("RemoveFollowedUser")
            .WithSummary("Stop following a SIP user")
            .WithDescription("For a user added here. New calls from its addresses are refused at once; its authorisation on the service " +
                             "cannot be revoked and runs out by itself (within the hour), so events of calls already up may still arrive until then.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseDescription(StatusCodes.Status403Forbidden, AdminOnly)
            .WithResponseDescription(StatusCodes.Status409Conflict, "The user comes from the configuration (followed-user-configured).");
        return group;
    }

    private const string AdminOnly = "The API key's scope is not '*' (admin-scope-required).";

    public static Ok<FollowedUserList> ListFollowedUsers(FollowedUsers followed, IReplicaLeadership leadership) =>
        TypedResults.Ok(new FollowedUserList([.. followed.Statuses.Select(FollowedUserResource.From)], leadership.LeaderId));

    public static async Task<Results<Created<FollowedUserResource>, ValidationProblem, ProblemHttpResult>> AddFollowedUser(
        JsonBody<AddFollowedUserRequest> body, FollowedUsers followed, CancellationToken cancellationToken)
    {
        var errors = body.Merge(FollowedUserValidation.ValidateAdd(body.Value, out var address));
        if (errors.Count > 0) return Problems.Validation(errors);
        return await followed.AddAsync(address, body.Value!.Password!, cancellationToken) switch
        {
            FollowedUserChange.Done => TypedResults.Created($"/followed-users/{Uri.EscapeDataString(address)}", Resource(followed, address)),
            _ => Problems.Result(ProblemTypes.FollowedUserExists, $"'{address}' is followed already.", Extensions(address)),
        };
    }

    public static async Task<Results<Ok<FollowedUserResource>, ValidationProblem, ProblemHttpResult>> SetFollowedUserPassword(
        [Description("The followed user (user@domain).")] string address, JsonBody<SetFollowedUserPasswordRequest> body, FollowedUsers followed,
        CancellationToken cancellationToken)
    {
        var errors = body.Merge(FollowedUserValidation.ValidatePassword(body.Value));
        if (errors.Count > 0) return Problems.Validation(errors);
        var normalized = SipUri.AddressOf(address) ?? address;
        return await followed.SetPasswordAsync(normalized, body.Value!.Password!, cancellationToken) switch
        {
            FollowedUserChange.Done => TypedResults.Ok(Resource(followed, normalized)),
            var refusal => Refused(refusal, normalized),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RemoveFollowedUser(
        [Description("The followed user (user@domain).")] string address, FollowedUsers followed, CancellationToken cancellationToken)
    {
        var normalized = SipUri.AddressOf(address) ?? address;
        return await followed.RemoveAsync(normalized, cancellationToken) switch
        {
            FollowedUserChange.Done => TypedResults.NoContent(),
            var refusal => Refused(refusal, normalized),
        };
    }

    /// <summary>Every endpoint here needs scope <c>*</c>: 403 before anything is read or bound.</summary>
    private static async ValueTask<object?> RequireAdmin(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var user = context.HttpContext.User;
        if (user.Scope().AllowsEverything) return await next(context);
        return Problems.Result(ProblemTypes.AdminScopeRequired, $"API key '{user.KeyName()}' may not manage the followed users: that needs scope '*'.");
    }

    private static FollowedUserResource Resource(FollowedUsers followed, string address) =>
        FollowedUserResource.From(followed.Statuses.First(s => s.Address == address));

    private static ProblemHttpResult Refused(FollowedUserChange refusal, string address) => refusal == FollowedUserChange.Configured
        ? Problems.Result(ProblemTypes.FollowedUserConfigured,
            $"'{address}' is followed by the configuration (Gateway:Events); change it there.", Extensions(address))
        : Problems.Result(ProblemTypes.FollowedUserNotFound, $"'{address}' is not followed.", Extensions(address));

    private static Dictionary<string, object?> Extensions(string address) => new() { ["address"] = address };
}
