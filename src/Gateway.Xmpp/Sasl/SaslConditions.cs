namespace Gateway.Xmpp.Sasl;

/// <summary>The client-side <see cref="Core.XmppAuthenticationException.Condition"/> values the mechanisms raise.</summary>
/// <remarks>A server-reported SCRAM error (<c>e=invalid-proof</c>, …) is raised with the server's value instead.</remarks>
internal static class SaslConditions
{
    /// <summary>The server's final message is missing, malformed, or its <c>v=</c> signature is wrong; or success came before the proof.</summary>
    public const string ServerSignatureMismatch = "server-signature-mismatch";
    /// <summary>The challenge is not a well-formed server-first-message.</summary>
    public const string MalformedChallenge = "malformed-challenge";
    /// <summary>The server nonce does not extend the client nonce.</summary>
    public const string NonceMismatch = "nonce-mismatch";
    /// <summary>The iteration count is zero, negative or above the sanity limit.</summary>
    public const string InvalidIterationCount = "invalid-iteration-count";
    /// <summary>The server sent a mandatory extension (<c>m=</c>) this client does not support.</summary>
    public const string UnsupportedExtension = "unsupported-extension";
    /// <summary>A challenge arrived when none (or no more) was expected.</summary>
    public const string UnexpectedChallenge = "unexpected-challenge";
    /// <summary>The configured username, password or authorization identity cannot be sent (SASLprep failure, empty, NUL).</summary>
    public const string InvalidCredentials = "invalid-credentials";
    /// <summary>The server sent an <c>e=</c> value that is not a well-formed error token.</summary>
    public const string OtherError = "other-error";
}
