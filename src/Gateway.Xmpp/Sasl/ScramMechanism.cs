using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Sasl;

/// <summary>SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) without channel binding.</summary>
/// <remarks>
/// <para>The GS2 header is <c>n,,</c> or <c>n,a=&lt;authzid&gt;,</c>: the <c>n</c> flag is correct because this client
/// never supports channel binding (it does not implement the -PLUS variants). The username is prepared with
/// <see cref="SaslPrep">an approximation of SASLprep</see> and escaped (<c>=</c> → <c>=3D</c>, <c>,</c> → <c>=2C</c>);
/// the authorization identity is escaped the same way but not prepared.</para>
/// <para>Exactly one challenge is accepted. Rejections raise <see cref="XmppAuthenticationException"/> with
/// <c>Condition</c>: <c>invalid-credentials</c> (from the constructor), <c>malformed-challenge</c>, <c>nonce-mismatch</c>,
/// <c>invalid-iteration-count</c> (0, negative, or above <see cref="MaxIterations"/>), <c>unsupported-extension</c>
/// (<c>m=</c>), <c>unexpected-challenge</c>, <c>server-signature-mismatch</c>, or the server's <c>e=</c> value.</para>
/// <para>Nothing is logged; no exception text contains the password, the proof or any key.</para>
/// </remarks>
public sealed class ScramMechanism : ISaslMechanism
{
    /// <summary>The largest iteration count accepted, so a hostile server cannot pin a CPU for minutes per connection.</summary>
    internal const int MaxIterations = 10_000_000;

    private const int ClientNonceBytes = 24;

    private enum State { Initial, AwaitingChallenge, AwaitingSuccess, Done }

    private readonly ScramHash _hash;
    private readonly string _username;   // prepared and escaped
    private readonly string _password;   // prepared
    private readonly string _gs2Header;
    private readonly ScramKeyCache? _cache;
    private readonly Func<string>? _clientNonceFactory;

    private State _state;
    private string? _clientNonce;
    private string? _clientFirstBare;
    private byte[]? _expectedServerSignature;

    /// <param name="hash">SHA-1 or SHA-256.</param>
    /// <param name="credentials">Username, password and optional authorization identity.</param>
    /// <param name="cache">Shares SaltedPassword derivations between attempts; <see langword="null"/> derives every time.</param>
    /// <param name="clientNonceFactory">For tests only: supplies the client nonce (printable ASCII without <c>,</c>).
    /// By default 24 bytes from the cryptographic RNG, base64-encoded.</param>
    /// <exception cref="XmppAuthenticationException"><c>invalid-credentials</c>: the username is empty or fails SASLprep,
    /// the password fails SASLprep, or the authorization identity contains a control character.</exception>
    public ScramMechanism(ScramHash hash, SaslCredentials credentials, ScramKeyCache? cache = null, Func<string>? clientNonceFactory = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        if (hash is not (ScramHash.Sha1 or ScramHash.Sha256))
            throw new ArgumentOutOfRangeException(nameof(hash), hash, "Unknown SCRAM hash.");
        var prepared = PreparedCredentials.From(credentials);
        _hash = hash;
        _username = EscapeSaslName(prepared.Username);
        _password = prepared.Password;
        _gs2Header = prepared.AuthorizationId is null ? "n,," : $"n,a={EscapeSaslName(prepared.AuthorizationId)},";
        _cache = cache;
        _clientNonceFactory = clientNonceFactory;
    }

    /// <inheritdoc />
    public string Name => _hash == ScramHash.Sha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";

    /// <inheritdoc />
    public byte[] GetInitialResponse()
    {
        if (_state != State.Initial) throw new InvalidOperationException("The initial response was already produced; create a new mechanism per attempt.");
        _clientNonce = NewClientNonce();
        _clientFirstBare = $"n={_username},r={_clientNonce}";
        _state = State.AwaitingChallenge;
        return Encoding.UTF8.GetBytes(_gs2Header + _clientFirstBare);
    }

    /// <inheritdoc />
    public byte[] EvaluateChallenge(byte[] challenge)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        switch (_state)
        {
            case State.Initial:
                throw new InvalidOperationException("GetInitialResponse must be called before EvaluateChallenge.");
            case State.AwaitingChallenge:
                break;
            default:
                _state = State.Done;
                throw Fail(SaslConditions.UnexpectedChallenge, "SCRAM allows only one server challenge.");
        }
        _state = State.Done; // whatever happens below, no further challenge is acceptable
        var serverFirst = DecodeUtf8(challenge, SaslConditions.MalformedChallenge);
        var (nonce, salt, iterations) = ParseServerFirst(serverFirst, _clientNonce!);

        var saltedPassword = _cache is null
            ? ScramKeyCache.DeriveSaltedPassword(_hash, _password, salt, iterations)
            : _cache.GetSaltedPassword(_hash, _password, salt, iterations);
        byte[]? clientKey = null, storedKey = null, clientSignature = null, serverKey = null;
        try
        {
            var clientFinalWithoutProof = $"c={Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header))},r={nonce}";
            var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{serverFirst},{clientFinalWithoutProof}");

            clientKey = Hmac(saltedPassword, "Client Key"u8);
            storedKey = Hash(clientKey);
            clientSignature = Hmac(storedKey, authMessage);
            var proof = new byte[clientKey.Length];
            for (var i = 0; i < proof.Length; i++) proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);

            serverKey = Hmac(saltedPassword, "Server Key"u8);
            _expectedServerSignature = Hmac(serverKey, authMessage);

            _state = State.AwaitingSuccess;
            return Encoding.UTF8.GetBytes($"{clientFinalWithoutProof},p={Convert.ToBase64String(proof)}");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(saltedPassword);
            if (clientKey is not null) CryptographicOperations.ZeroMemory(clientKey);
            if (storedKey is not null) CryptographicOperations.ZeroMemory(storedKey);
            if (clientSignature is not null) CryptographicOperations.ZeroMemory(clientSignature);
            if (serverKey is not null) CryptographicOperations.ZeroMemory(serverKey);
        }
    }

    /// <inheritdoc />
    public void VerifySuccess(byte[]? additionalData)
    {
        switch (_state)
        {
            case State.Initial:
                throw new InvalidOperationException("GetInitialResponse must be called before VerifySuccess.");
            case State.Done:
                throw new InvalidOperationException("This exchange has already finished.");
            case State.AwaitingChallenge:
                _state = State.Done;
                throw Fail(SaslConditions.ServerSignatureMismatch, "success arrived before the server proved knowledge of the password");
        }
        _state = State.Done;
        var expected = _expectedServerSignature!;
        _expectedServerSignature = null;

        if (additionalData is null || additionalData.Length == 0)
            throw Fail(SaslConditions.ServerSignatureMismatch, "success carried no server signature");
        var serverFinal = DecodeUtf8(additionalData, SaslConditions.ServerSignatureMismatch);
        var first = serverFinal.Split(',')[0];

        if (first.StartsWith("e=", StringComparison.Ordinal))
            throw new XmppAuthenticationException(ServerErrorCondition(first[2..]), "the server reported a SCRAM error");
        if (!first.StartsWith("v=", StringComparison.Ordinal))
            throw Fail(SaslConditions.ServerSignatureMismatch, "server-final-message has no v= attribute");

        var signature = new byte[expected.Length];
        if (!Convert.TryFromBase64String(first[2..], signature, out var written) || written != expected.Length
            || !CryptographicOperations.FixedTimeEquals(signature, expected))
        {
            throw Fail(SaslConditions.ServerSignatureMismatch, "the server signature does not match");
        }
    }

    /// <summary>RFC 5802 §5.1 saslname: <c>=</c> → <c>=3D</c>, <c>,</c> → <c>=2C</c>.</summary>
    internal static string EscapeSaslName(string value) =>
        value.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    private string NewClientNonce()
    {
        if (_clientNonceFactory is null) return Convert.ToBase64String(RandomNumberGenerator.GetBytes(ClientNonceBytes));
        var nonce = _clientNonceFactory();
        if (string.IsNullOrEmpty(nonce) || !IsPrintable(nonce))
            throw new InvalidOperationException("The client nonce factory must return printable ASCII without ','.");
        return nonce;
    }

    private static (string Nonce, byte[] Salt, int Iterations) ParseServerFirst(string message, string clientNonce)
    {
        // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
        var parts = message.Split(',');
        if (parts[0].StartsWith("m=", StringComparison.Ordinal))
            throw Fail(SaslConditions.UnsupportedExtension, "the server requires a mandatory extension (m=)");
        if (parts.Length < 3)
            throw Fail(SaslConditions.MalformedChallenge, "server-first-message needs r=, s= and i=");

        var nonce = Attribute(parts[0], 'r');
        if (nonce.Length == 0 || !IsPrintable(nonce))
            throw Fail(SaslConditions.MalformedChallenge, "the server nonce is empty or not printable");
        if (nonce.Length <= clientNonce.Length || !nonce.StartsWith(clientNonce, StringComparison.Ordinal))
            throw Fail(SaslConditions.NonceMismatch, "the server nonce does not extend the client nonce");

        var saltText = Attribute(parts[1], 's');
        byte[] salt;
        try { salt = Convert.FromBase64String(saltText); }
        catch (FormatException) { throw Fail(SaslConditions.MalformedChallenge, "the salt is not base64"); }
        if (salt.Length == 0) throw Fail(SaslConditions.MalformedChallenge, "the salt is empty");

        var iterationText = Attribute(parts[2], 'i');
        var digits = iterationText.StartsWith('-') ? iterationText.AsSpan(1) : iterationText.AsSpan();
        if (digits.IsEmpty || digits.ContainsAnyExceptInRange('0', '9'))
            throw Fail(SaslConditions.MalformedChallenge, "the iteration count is not a number");
        if (iterationText.StartsWith('-')
            || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations < 1 || iterations > MaxIterations)
        {
            throw Fail(SaslConditions.InvalidIterationCount, $"the iteration count must be between 1 and {MaxIterations}");
        }

        // Any further parts are optional extensions; each must at least look like attr=value.
        for (var i = 3; i < parts.Length; i++)
        {
            if (parts[i].Length < 2 || !char.IsAsciiLetter(parts[i][0]) || parts[i][1] != '=')
                throw Fail(SaslConditions.MalformedChallenge, "server-first-message has a malformed extension");
        }
        return (nonce, salt, iterations);
    }

    private static string Attribute(string part, char name)
    {
        if (part.Length < 2 || part[0] != name || part[1] != '=')
            throw Fail(SaslConditions.MalformedChallenge, $"expected the '{name}=' attribute");
        return part[2..];
    }

    // RFC 5802 printable = %x21-2B / %x2D-7E
    private static bool IsPrintable(string value) =>
        !value.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E') && !value.Contains(',', StringComparison.Ordinal);

    private static string ServerErrorCondition(string value) =>
        value.Length is > 0 and <= 64 && !value.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E') ? value : SaslConditions.OtherError;

    private static string DecodeUtf8(byte[] data, string condition)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(data); }
        catch (DecoderFallbackException) { throw Fail(condition, "the message is not valid UTF-8"); }
    }

    private byte[] Hmac(byte[] key, ReadOnlySpan<byte> data) => _hash == ScramHash.Sha256
        ? HMACSHA256.HashData(key, data)
#pragma warning disable CA5350 // Do Not Use Weak Cryptographic Algorithms: HMAC-SHA-1 is mandated by RFC 5802 for SCRAM-SHA-1
        : HMACSHA1.HashData(key, data);
#pragma warning restore CA5350

    private byte[] Hash(byte[] data) => _hash == ScramHash.Sha256
        ? SHA256.HashData(data)
#pragma warning disable CA5350 // Do Not Use Weak Cryptographic Algorithms: SHA-1 is mandated by RFC 5802 for SCRAM-SHA-1
        : SHA1.HashData(data);
#pragma warning restore CA5350

    private static XmppAuthenticationException Fail(string condition, string text) => new(condition, text);
}
