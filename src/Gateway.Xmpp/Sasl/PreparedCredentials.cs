using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Sasl;

/// <summary>Credentials after SASLprep and validation, shared by every mechanism.</summary>
internal sealed record PreparedCredentials(string Username, string Password, string? AuthorizationId)
{
    /// <exception cref="XmppAuthenticationException"><c>invalid-credentials</c>; the text never contains the password.</exception>
    public static PreparedCredentials From(SaslCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(credentials.Username, "credentials.Username");
        ArgumentNullException.ThrowIfNull(credentials.Password, "credentials.Password");

        var username = SaslPrep.Prepare(credentials.Username)
            ?? throw Invalid("the username contains a character SASLprep prohibits");
        if (username.Length == 0) throw Invalid("the username is empty");

        var password = SaslPrep.Prepare(credentials.Password)
            ?? throw Invalid("the password contains a character SASLprep prohibits");
        if (password.Length == 0) throw Invalid("the password is empty");

        var authorizationId = string.IsNullOrEmpty(credentials.AuthorizationId) ? null : credentials.AuthorizationId;
        if (authorizationId is not null && authorizationId.Any(char.IsControl))
            throw Invalid("the authorization identity contains a control character");

        return new PreparedCredentials(username, password, authorizationId);
    }

    // Never print the password.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Username = ").Append(Username).Append(", Password = ***");
        return true;
    }

    private static XmppAuthenticationException Invalid(string text) => new(SaslConditions.InvalidCredentials, text);
}
