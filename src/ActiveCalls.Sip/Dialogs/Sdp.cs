using System.Text;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>The little SDP handling a signalling-only B2BUA needs: it never reads media, it only passes SDP on.</summary>
public static class Sdp
{
    public const string ContentType = "application/sdp";

    /// <summary>An answer that declines every stream of <paramref name="offer"/> (each <c>m=</c> port set to 0,
    /// RFC 3264 §6): sent in an ACK when the call fails after a party offered in its 200 (RFC 3725 Flow I).</summary>
    public static byte[] RejectAll(byte[] offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var lines = Encoding.UTF8.GetString(offer).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (!line.StartsWith("m=", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ');
            if (parts.Length >= 2)
            {
                parts[1] = "0";
                lines[i] = string.Join(' ', parts) + (lines[i].EndsWith('\r') ? "\r" : "");
            }
        }
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }

    /// <summary>True when <paramref name="body"/> with <paramref name="contentType"/> is a non-empty SDP body.</summary>
    public static bool IsSdp(byte[]? body, string? contentType) =>
        body is { Length: > 0 } && (contentType is null || contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase));

    /// <summary>True when <paramref name="offer"/> is byte for byte the session description last received
    /// (<paramref name="previous"/>): a session refresh (RFC 4028 §7.4 repeats the SDP with its version unchanged),
    /// nothing to relay. Only identical bodies count, so that a change a sloppy phone made without raising the
    /// <c>o=</c> version still reaches the other phone.</summary>
    public static bool IsUnchanged(byte[] offer, byte[]? previous) =>
        previous is not null && offer.AsSpan().SequenceEqual(previous);
}
