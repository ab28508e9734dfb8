using Microsoft.AspNetCore.DataProtection;

namespace Gateway.Api.CallEventsSubscription.Store;

/// <summary>How a store keeps web passwords at rest: only as ASP.NET Core Data Protection payloads, so a copy of the
/// store alone does not give them away.</summary>
internal static class FollowedUserPasswords
{
    /// <summary>The purpose the passwords are protected for: another purpose's payloads cannot be read as one.</summary>
    public const string Purpose = "Gateway.FollowedUsers.WebPassword.v1";

    public static IDataProtector Protector(IDataProtectionProvider protection) => protection.CreateProtector(Purpose);
}
