using System.ComponentModel;
using Gateway.Api.Calls;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>One followed user as <c>/followed-users</c> shows it: never its password.</summary>
public sealed record FollowedUserResource(
    [property: Description("The followed SIP user (user@domain).")] string Address,
    [property: Description("configuration (Gateway:Events; changed by a restart) or api (added through POST /followed-users; may be changed and removed).")]
    string Source,
    [property: Description("Whether its authorize-plain currently holds on the event receiver's JID.")] bool Authorized,
    [property: Description("When that authorisation ends (it is renewed before); null while not authorised.")] DateTimeOffset? AuthorizedUntil,
    [property: Description("The addresses whose calls it brings (with auth-for-all: every address of its owner, as the Auth component listed them); its own address until an authorisation succeeded.")]
    IReadOnlyList<string> Covers,
    [property: Description("Why its last authorisation failed (e.g. a wrong web password); null once one succeeded.")] string? LastError)
{
    public static FollowedUserResource From(FollowedUserStatus status) => new(status.Address,
        status.Source == FollowedUserSource.Api ? "api" : "configuration", status.IsAuthorized, status.AuthorizedUntil, status.Covers, status.LastError);
}

public sealed record FollowedUserList(
    [property: Description("The followed users: the configured ones, then the added ones.")] IReadOnlyList<FollowedUserResource> Items,
    [property: Description("The replica that holds the PubSub subscription and authorises the followed users: their statuses are as it reported them. " +
                           "null while none holds it.")]
    string? SubscriptionHolder);

/// <summary>Body of <c>POST /followed-users</c>.</summary>
public sealed record AddFollowedUserRequest
{
    [Description("The SIP user to follow (user@domain or sip:user@domain). With auth-for-all every address of its owner is followed too.")]
    public string? Address { get; init; }

    [Description("Its web portal password, which authorize-plain checks. Stored encrypted; never shown again.")]
    public string? Password { get; init; }
}

/// <summary>Body of <c>PUT /followed-users/{address}/password</c>.</summary>
public sealed record SetFollowedUserPasswordRequest
{
    [Description("The new web portal password. Stored encrypted; never shown again.")]
    public string? Password { get; init; }
}

internal static class FollowedUserValidation
{
    public const int MaxPasswordLength = 256;

    public static Dictionary<string, string[]> ValidateAdd(AddFollowedUserRequest? request, out string address)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        address = "";
        if (request is null)
        {
            errors["body"] = ["A JSON object {\"address\", \"password\"} is required."];
            return errors;
        }
        if (string.IsNullOrWhiteSpace(request.Address)) errors["address"] = ["is required."];
        else if (SipUri.Validate("sip:" + SipUri.WithoutScheme(request.Address.Trim()), allowPstnShorthand: false, out var uri) is { } problem)
            errors["address"] = [problem];
        else address = SipUri.AddressOf(uri)!;
        ValidatePassword(request.Password, errors);
        return errors;
    }

    public static Dictionary<string, string[]> ValidatePassword(SetFollowedUserPasswordRequest? request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (request is null) errors["body"] = ["A JSON object {\"password\"} is required."];
        else ValidatePassword(request.Password, errors);
        return errors;
    }

    private static void ValidatePassword(string? password, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(password)) errors["password"] = ["is required."];
        else if (password.Length > MaxPasswordLength) errors["password"] = [$"must be at most {MaxPasswordLength} characters."];
    }
}
