using Microsoft.AspNetCore.Authorization;

namespace Gateway.Api.Auth;

/// <summary>Which addresses a request touches, and whether all or any of them must be in the key's scope.</summary>
public sealed record AddressResource(IReadOnlyCollection<string?> Addresses, bool RequireAll);

/// <summary>The <c>AddressScope</c> policy's requirement: the key's scope covers the request's SIP addresses.</summary>
public sealed class AddressScopeRequirement : IAuthorizationRequirement
{
    public const string Policy = "AddressScope";
}

/// <summary>
/// Placing a call needs the <c>from</c> party in scope (the key acts for the caller, like a phone number one owns;
/// what it may call is its <see cref="DestinationScope"/>). Reading, hanging up or transferring a call needs any of its
/// parties or legs in scope.
/// </summary>
internal sealed class AddressScopeHandler : AuthorizationHandler<AddressScopeRequirement, AddressResource>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AddressScopeRequirement requirement, AddressResource resource)
    {
        var scope = context.User.Scope();
        var allowed = resource.RequireAll ? resource.Addresses.All(scope.Allows) : scope.AllowsAny(resource.Addresses);
        if (allowed) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
