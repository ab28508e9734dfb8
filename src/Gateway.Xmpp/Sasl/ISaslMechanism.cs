namespace Gateway.Xmpp.Sasl;

/// <summary>One authentication exchange (RFC 6120 §6). Created per attempt and not reusable.</summary>
/// <remarks>
/// The negotiation code sends <see cref="GetInitialResponse"/> base64-encoded in
/// <c>&lt;auth mechanism="<see cref="Name"/>"&gt;</c>, passes the decoded payload of a <c>&lt;challenge/&gt;</c> to
/// <see cref="EvaluateChallenge"/> and sends the result in <c>&lt;response/&gt;</c>, then passes the decoded payload of
/// <c>&lt;success/&gt;</c> (or <see langword="null"/> when it is empty) to <see cref="VerifySuccess"/>. Only when
/// <see cref="VerifySuccess"/> returns is the server authenticated; a <c>&lt;success/&gt;</c> alone is not enough for SCRAM.
/// Every rejection is an <see cref="Core.XmppAuthenticationException"/>; its <c>Condition</c> is one of the client-side
/// conditions documented on the implementing class, or the server's own <c>e=</c> value for SCRAM.
/// Calls out of order by the caller (not the server) throw <see cref="InvalidOperationException"/>.
/// </remarks>
public interface ISaslMechanism
{
    /// <summary>The IANA mechanism name as offered in <c>&lt;mechanisms/&gt;</c>: <c>SCRAM-SHA-256</c>, <c>SCRAM-SHA-1</c> or <c>PLAIN</c>.</summary>
    string Name { get; }

    /// <summary>The client's first message (SCRAM client-first-message, or the whole PLAIN message).</summary>
    byte[] GetInitialResponse();

    /// <summary>Answers the server's challenge (SCRAM server-first-message → client-final-message).</summary>
    /// <exception cref="Core.XmppAuthenticationException">The challenge is malformed, unexpected or unacceptable.</exception>
    byte[] EvaluateChallenge(byte[] challenge);

    /// <summary>Checks the additional data of <c>&lt;success/&gt;</c> (SCRAM server-final-message).</summary>
    /// <param name="additionalData">The decoded payload, or <see langword="null"/>/empty when <c>&lt;success/&gt;</c> carried none.</param>
    /// <exception cref="Core.XmppAuthenticationException">The server did not prove knowledge of the password, or reported an error.</exception>
    void VerifySuccess(byte[]? additionalData);
}
