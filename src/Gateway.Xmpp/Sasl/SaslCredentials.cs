using System.Text;

namespace Gateway.Xmpp.Sasl;

/// <summary>What a client authenticates with.</summary>
/// <param name="Username">The authentication identity: for XMPP c2s the localpart of the account's JID.</param>
/// <param name="Password">The password. Never printed by <see cref="ToString"/>.</param>
/// <param name="AuthorizationId">The identity to act as, when different from the authenticated one (normally <see langword="null"/>; empty is treated as none).</param>
public sealed record SaslCredentials(string Username, string Password, string? AuthorizationId = null)
{
    // Records print every property by default; the password must never reach a log line.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Username = ").Append(Username)
            .Append(", Password = ***");
        if (AuthorizationId is not null) builder.Append(", AuthorizationId = ").Append(AuthorizationId);
        return true;
    }
}
