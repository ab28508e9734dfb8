using System.ComponentModel;
using System.Security.Claims;
using Gateway.Api.Auth;
using Gateway.Api.Errors;
using Gateway.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>One followed user as <c>GET /followed-users</c> shows it: never its password.</summary>
public sealed record FollowedUserResource(
    [property: Description("The followed SIP user (user@domain).")] string Address,
    [property: Description("Whether its authorize-plain currently holds on the event receiver's JID.")] bool Authorized,
    [property: Description("When that authorisation ends (it is renewed before); null while not authorised.")] DateTimeOffset? AuthorizedUntil,
    [property: Description("The addresses whose calls it brings (with auth-for-all: every address of its owner, as the Auth component listed them); its own address until an authorisation succeeded.")]
    IReadOnlyList<string> Covers,
    [property: Description("Why its last authorisation failed (e.g. a wrong web password); null once one succeeded.")] string? LastError);

public sealed record FollowedUserList([property: Description("The followed users, in configuration order.")] IReadOnlyList<FollowedUserResource> Items);

/// <summary><c>/followed-users</c>: the SIP users whose calls the gateway follows and how each one's authorisation
/// stands. For administrators only (an API key with scope <c>*</c>): it shows the whole team's addresses.</summary>
public static class FollowedUsersApi
{
    public static RouteGroupBuilder MapFollowedUsersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/followed-users")
            .WithTags("Followed users")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapGet("", ListFollowedUsers)
            .WithName("ListFollowedUsers")
            .WithSummary("List the followed users")
            .WithDescription("The SIP users of Gateway:Events whose calls the gateway follows, in configuration order, with their authorisation: " +
                             "until when it holds, which addresses it covers (POST /calls refuses a 'from' none covers) and the last error. " +
                             "Passwords are never shown.")
            .WithResponseDescription(StatusCodes.Status403Forbidden, "The API key's scope is not '*' (admin-scope-required).");
        return group;
    }

    public static Results<Ok<FollowedUserList>, ProblemHttpResult> ListFollowedUsers(FollowedUsers followed, ClaimsPrincipal user)
    {
        if (!user.Scope().AllowsEverything)
            return Problems.Result(ProblemTypes.AdminScopeRequired, $"API key '{user.KeyName()}' may not read the followed users: that needs scope '*'.");
        return TypedResults.Ok(new FollowedUserList([.. followed.Statuses.Select(s =>
            new FollowedUserResource(s.Address, s.IsAuthorized, s.AuthorizedUntil, s.Covers, s.LastError))]));
    }
}
