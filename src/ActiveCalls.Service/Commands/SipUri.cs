using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActiveCalls.Service.Commands;

/// <summary>
/// A SIP address as the commands take it: <c>sip:user@host</c>, optionally with <c>:port</c> (the engine routes by
/// host and port). The user part follows RFC 3261's <c>user</c> rule (unreserved characters, <c>%HH</c> escapes and
/// <c>&amp;=+$,;?/</c>), so PSTN targets such as <c>sip:15555554567@example.onsip.com</c> and <c>sip:+15555554567@…</c>
/// are accepted. The host is a DNS name, an IPv4 address or a bracketed IPv6 address.
/// </summary>
/// <remarks>
/// Deliberately refused, though RFC 3261 allows them: the <c>sips:</c> scheme, a password (<c>user:pw@</c>), URI
/// parameters (<c>;transport=…</c>) and headers (<c>?…</c>) after the host, and a URI without a user part. The seed
/// says "they must be in the format sip:&lt;user&gt;@&lt;domain&gt;". The scheme is matched case-insensitively.
/// </remarks>
// Not the gateway's SipUri (user@domain addresses only): the service routes calls, so it also takes a port and IPv6 hosts.
public sealed record SipUri
{
    /// <summary>Longest URI accepted.</summary>
    public const int MaxLength = 256;

    private const string UserMarks = "-_.!~*'()&=+$,;?/";

    private SipUri(string user, string host, int? port)
    {
        User = user;
        Host = host;
        Port = port;
    }

    public string User { get; }
    /// <summary>The host as written (an IPv6 address keeps its brackets).</summary>
    public string Host { get; }
    public int? Port { get; }

    public override string ToString() =>
        "sip:" + User + "@" + Host + (Port is { } port ? ":" + port.ToString(CultureInfo.InvariantCulture) : "");

    public static bool IsValid(string? value) => TryParse(value, out _);

    public static bool TryParse(string? value, [NotNullWhen(true)] out SipUri? uri)
    {
        uri = null;
        if (value is null || value.Length > MaxLength || !value.StartsWith("sip:", StringComparison.OrdinalIgnoreCase)) return false;
        var rest = value.AsSpan(4);
        var at = rest.IndexOf('@');
        if (at <= 0 || rest[(at + 1)..].Contains('@')) return false;
        var user = rest[..at];
        if (!IsUser(user)) return false;
        var hostPort = rest[(at + 1)..];
        if (!TrySplitHostPort(hostPort, out var host, out var port)) return false;
        uri = new SipUri(user.ToString(), host.ToString(), port);
        return true;
    }

    /// <summary>RFC 3261: <c>user = 1*( unreserved / escaped / user-unreserved )</c>.</summary>
    private static bool IsUser(ReadOnlySpan<char> user)
    {
        for (var i = 0; i < user.Length; i++)
        {
            var c = user[i];
            if (char.IsAsciiLetterOrDigit(c) || UserMarks.Contains(c, StringComparison.Ordinal)) continue;
            if (c == '%' && i + 2 < user.Length && char.IsAsciiHexDigit(user[i + 1]) && char.IsAsciiHexDigit(user[i + 2]))
            {
                i += 2;
                continue;
            }
            return false;
        }
        return user.Length > 0;
    }

    private static bool TrySplitHostPort(ReadOnlySpan<char> hostPort, out ReadOnlySpan<char> host, out int? port)
    {
        port = null;
        ReadOnlySpan<char> portText;
        if (hostPort.StartsWith("["))
        {
            var close = hostPort.IndexOf(']');
            host = close > 0 ? hostPort[..(close + 1)] : default;
            if (close < 0 || !IPAddress.TryParse(hostPort[1..close], out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
            portText = hostPort[(close + 1)..];
        }
        else
        {
            var colon = hostPort.IndexOf(':');
            host = colon >= 0 ? hostPort[..colon] : hostPort;
            portText = colon >= 0 ? hostPort[colon..] : default;
            if (!IsIPv4(host) && !IsHostname(host)) return false;
        }
        if (portText.IsEmpty) return true;
        if (portText[0] != ':' || portText.Length is < 2 or > 6) return false;
        foreach (var c in portText[1..])
            if (!char.IsAsciiDigit(c)) return false;
        var number = int.Parse(portText[1..], NumberStyles.None, CultureInfo.InvariantCulture);
        if (number is < 1 or > 65535) return false;
        port = number;
        return true;
    }

    private static bool IsIPv4(ReadOnlySpan<char> host)
    {
        var parts = 0;
        foreach (var range in host.Split('.'))
        {
            var part = host[range];
            if (++parts > 4 || part.Length is 0 or > 3) return false;
            foreach (var c in part)
                if (!char.IsAsciiDigit(c)) return false;
            if (int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture) > 255) return false;
        }
        return parts == 4;
    }

    /// <summary>RFC 3261 <c>hostname</c>: dot-separated labels of letters, digits and inner hyphens, the last one
    /// starting with a letter; one trailing dot allowed.</summary>
    private static bool IsHostname(ReadOnlySpan<char> host)
    {
        if (host.EndsWith(".")) host = host[..^1];
        if (host.IsEmpty || host.Length > 253) return false;
        ReadOnlySpan<char> last = default;
        foreach (var range in host.Split('.'))
        {
            var label = host[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-') return false;
            foreach (var c in label)
                if (!char.IsAsciiLetterOrDigit(c) && c != '-') return false;
            last = label;
        }
        return char.IsAsciiLetter(last[0]);
    }
}
