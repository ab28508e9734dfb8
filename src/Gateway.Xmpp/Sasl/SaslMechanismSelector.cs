namespace Gateway.Xmpp.Sasl;

/// <summary>Picks the mechanism to use from what the server offers.</summary>
public static class SaslMechanismSelector
{
    /// <summary>
    /// Preference: SCRAM-SHA-256, then SCRAM-SHA-1, then PLAIN — the latter only when <paramref name="streamIsEncrypted"/>
    /// or <paramref name="allowPlainWithoutTls"/> (a switch for tests, e.g. of Prosody refusing PLAIN in clear text).
    /// The -PLUS (channel binding) variants are never selected. Names are matched ordinally after trimming.
    /// </summary>
    /// <returns>A new mechanism for one attempt, or <see langword="null"/> when nothing acceptable is offered.</returns>
    /// <exception cref="Core.XmppAuthenticationException"><c>invalid-credentials</c>: the credentials cannot be sent
    /// (see <see cref="ScramMechanism"/> and <see cref="PlainMechanism"/>).</exception>
    public static ISaslMechanism? Select(
        IReadOnlyCollection<string> offered,
        SaslCredentials credentials,
        bool streamIsEncrypted,
        bool allowPlainWithoutTls = false,
        ScramKeyCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(offered);
        ArgumentNullException.ThrowIfNull(credentials);

        if (Offers(offered, "SCRAM-SHA-256")) return new ScramMechanism(ScramHash.Sha256, credentials, cache);
        if (Offers(offered, "SCRAM-SHA-1")) return new ScramMechanism(ScramHash.Sha1, credentials, cache);
        if (Offers(offered, "PLAIN") && (streamIsEncrypted || allowPlainWithoutTls)) return new PlainMechanism(credentials);
        return null;
    }

    private static bool Offers(IReadOnlyCollection<string> offered, string name) =>
        offered.Any(o => o is not null && o.AsSpan().Trim().Equals(name, StringComparison.Ordinal));
}
