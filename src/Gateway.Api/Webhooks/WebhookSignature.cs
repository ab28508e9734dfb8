using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Standard Webhooks signing (symmetric scheme <c>v1</c>): <c>webhook-signature</c> is
/// <c>v1,</c> + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), space-separated when signed with more
/// than one key (during a secret rotation). The key is random; clients see it as <c>whsec_</c> + base64.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    /// <summary>The spec asks for 24 to 64 random bytes.</summary>
    public const int KeyBytes = 32;

    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    public static string FormatSecret(ReadOnlySpan<byte> key) => SecretPrefix + Convert.ToBase64String(key);

    /// <summary>One <c>v1,&lt;base64&gt;</c> signature.</summary>
    public static string Sign(ReadOnlySpan<byte> key, string messageId, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        var prefix = Encoding.UTF8.GetBytes(messageId + "." + timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        Span<byte> mac = stackalloc byte[32];
        hmac.GetHashAndReset(mac);
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>The <c>webhook-signature</c> value: signed with <paramref name="key"/>, and also with
    /// <paramref name="previousKey"/> when a rotation is still in its overlap, so receivers holding either secret verify it.</summary>
    public static string Header(byte[] key, byte[]? previousKey, string messageId, long timestamp, ReadOnlySpan<byte> body) =>
        previousKey is null
            ? Sign(key, messageId, timestamp, body)
            : Sign(key, messageId, timestamp, body) + " " + Sign(previousKey, messageId, timestamp, body);
}
