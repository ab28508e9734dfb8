using System.Security.Cryptography;
using System.Text;
using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

/// <summary>
/// A minimal SCRAM server written independently of <see cref="ScramMechanism"/> (it verifies the proof the way a server
/// does: recover ClientKey from the proof and compare H(ClientKey) with StoredKey), for round trips beyond the RFC vectors.
/// </summary>
internal sealed class TestScramServer(ScramHash hash, string password, byte[] salt, int iterations, string serverNonceSuffix = "3rfcNHYJY1ZVvWVs7j")
{
    private readonly HashAlgorithmName _algorithm = hash == ScramHash.Sha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1;
    private string? _gs2Header;
    private string? _clientFirstBare;
    private string? _serverFirst;

    public string? AuthorizationId { get; private set; }
    public string? Username { get; private set; }

    public byte[] Challenge(byte[] clientFirst)
    {
        var text = Encoding.UTF8.GetString(clientFirst);
        var gs2End = text.IndexOf(',', text.IndexOf(',', StringComparison.Ordinal) + 1);
        _gs2Header = text[..(gs2End + 1)];
        Assert.StartsWith("n,", _gs2Header, StringComparison.Ordinal);
        var authz = _gs2Header[2..^1];
        AuthorizationId = authz.Length == 0 ? null : Unescape(authz[2..]);
        _clientFirstBare = text[(gs2End + 1)..];
        var attributes = _clientFirstBare.Split(',');
        Username = Unescape(attributes[0][2..]);
        var clientNonce = attributes[1][2..];
        _serverFirst = $"r={clientNonce}{serverNonceSuffix},s={Convert.ToBase64String(salt)},i={iterations}";
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>Verifies the client proof and returns the server-final-message.</summary>
    public byte[] Final(byte[] clientFinal)
    {
        var text = Encoding.UTF8.GetString(clientFinal);
        var proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        var withoutProof = text[..proofAt];
        var proof = Convert.FromBase64String(text[(proofAt + 3)..]);
        Assert.StartsWith($"c={Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header!))},", withoutProof, StringComparison.Ordinal);

        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, _algorithm, proof.Length);
        var storedKey = CryptographicOperations.HashData(_algorithm, CryptographicOperations.HmacData(_algorithm, salted, "Client Key"u8));
        var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        var clientSignature = CryptographicOperations.HmacData(_algorithm, storedKey, authMessage);
        var clientKey = proof.Zip(clientSignature, (a, b) => (byte)(a ^ b)).ToArray();
        Assert.Equal(storedKey, CryptographicOperations.HashData(_algorithm, clientKey));

        var serverKey = CryptographicOperations.HmacData(_algorithm, salted, "Server Key"u8);
        return Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(CryptographicOperations.HmacData(_algorithm, serverKey, authMessage)));
    }

    /// <summary>Runs a whole exchange and returns normally only if both sides authenticated each other.</summary>
    public void Authenticate(ISaslMechanism mechanism)
    {
        var challenge = Challenge(mechanism.GetInitialResponse());
        mechanism.VerifySuccess(Final(mechanism.EvaluateChallenge(challenge)));
    }

    private static string Unescape(string saslName) =>
        saslName.Replace("=2C", ",", StringComparison.Ordinal).Replace("=3D", "=", StringComparison.Ordinal);
}
