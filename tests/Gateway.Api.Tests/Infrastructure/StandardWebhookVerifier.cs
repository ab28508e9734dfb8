using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// A receiver's check of a Standard Webhooks request, written from the specification alone (it shares no code with the
/// gateway's signer): the key is the base64 part of the <c>whsec_</c> secret; the signed content is
/// "{webhook-id}.{webhook-timestamp}.{raw body}"; <c>webhook-signature</c> holds space-separated <c>v1,&lt;base64&gt;</c>
/// entries, one of which must match in constant time; the timestamp must be within the tolerance of the receiver's clock.
/// </summary>
public static class StandardWebhookVerifier
{
    /// <summary>Null when the request is authentic, else why not.</summary>
    public static string? Verify(string secret, string? id, string? timestamp, string? signature, byte[] body, DateTimeOffset now, TimeSpan? tolerance = null)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature)) return "a webhook-* header is missing";
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return "webhook-timestamp is not unix seconds";
        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > (tolerance ?? TimeSpan.FromMinutes(5))) return "webhook-timestamp is outside the tolerance";
        if (!secret.StartsWith("whsec_", StringComparison.Ordinal)) return "the secret is not whsec_<base64>";
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var content = Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body).ToArray();
        var expected = Encoding.ASCII.GetBytes(Convert.ToBase64String(HMACSHA256.HashData(key, content)));
        foreach (var entry in signature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = entry.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || entry[..comma] != "v1") continue;
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(entry[(comma + 1)..]), expected)) return null;
        }
        return "no v1 signature matches";
    }

    public static string? Verify(string secret, WebhookReceiver.Request request, DateTimeOffset now) =>
        Verify(secret, request.Header("webhook-id"), request.Header("webhook-timestamp"), request.Header("webhook-signature"), request.RawBody, now);
}
