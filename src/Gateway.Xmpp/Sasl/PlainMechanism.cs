using System.Text;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Sasl;

/// <summary>SASL PLAIN (RFC 4616): <c>[authzid] NUL authcid NUL passwd</c> in one message.</summary>
/// <remarks>
/// The password travels in the clear inside the stream, so <see cref="SaslMechanismSelector"/> only picks PLAIN on an
/// encrypted stream unless explicitly allowed. The username and password are prepared with an approximation of SASLprep.
/// A challenge is a protocol violation (<c>unexpected-challenge</c>); any additional data with success is ignored because
/// PLAIN does not authenticate the server.
/// </remarks>
public sealed class PlainMechanism : ISaslMechanism
{
    private readonly PreparedCredentials _credentials;
    private bool _sent;

    /// <exception cref="XmppAuthenticationException"><c>invalid-credentials</c>: the username or password is empty or fails
    /// SASLprep, or the authorization identity contains a control character.</exception>
    public PlainMechanism(SaslCredentials credentials) => _credentials = PreparedCredentials.From(credentials);

    /// <inheritdoc />
    public string Name => "PLAIN";

    /// <inheritdoc />
    public byte[] GetInitialResponse()
    {
        if (_sent) throw new InvalidOperationException("The initial response was already produced; create a new mechanism per attempt.");
        _sent = true;
        return Encoding.UTF8.GetBytes($"{_credentials.AuthorizationId}\0{_credentials.Username}\0{_credentials.Password}");
    }

    /// <inheritdoc />
    public byte[] EvaluateChallenge(byte[] challenge)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        throw new XmppAuthenticationException(SaslConditions.UnexpectedChallenge, "PLAIN has no server challenge");
    }

    /// <inheritdoc />
    public void VerifySuccess(byte[]? additionalData)
    {
        if (!_sent) throw new InvalidOperationException("GetInitialResponse must be called before VerifySuccess.");
    }
}
