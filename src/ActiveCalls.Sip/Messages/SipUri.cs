using System.Globalization;
using System.Net;
using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>
/// A SIP or SIPS URI, <c>sip:user:password@host:port;params?headers</c> (RFC 3261 §19.1). <see cref="User"/> and
/// <see cref="Password"/> are unescaped; parameters and headers keep their escaped form. Any other scheme (e.g.
/// <c>tel:</c>) is kept whole in <see cref="Opaque"/> so that To/From headers carrying one still parse.
/// </summary>
// Not the gateway's SipUri (user@domain addresses only): the SIP stack parses full RFC 3261 URIs, with parameters and headers.
public sealed class SipUri
{
    public SipUri(string scheme, string? user, string host, int? port = null)
    {
        Scheme = scheme.ToLowerInvariant();
        User = user;
        Host = host;
        Port = port;
    }

    private SipUri(string scheme, string opaque)
    {
        Scheme = scheme.ToLowerInvariant();
        Opaque = opaque;
        Host = "";
    }

    /// <summary><c>sip</c> or <c>sips</c> (lower case); any other scheme has <see cref="Opaque"/> set.</summary>
    public string Scheme { get; set; }

    /// <summary>The whole scheme-specific part of a non-SIP URI; null for sip/sips.</summary>
    public string? Opaque { get; }

    public bool IsSip => Opaque is null;

    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>A host name, IPv4 address, or bracketed IPv6 reference (<c>[::1]</c>).</summary>
    public string Host { get; set; }

    public int? Port { get; set; }

    public SipParameters Parameters { get; private set; } = new();

    /// <summary>The <c>?name=value&amp;…</c> headers, escaped as they appeared.</summary>
    public List<KeyValuePair<string, string>> Headers { get; private set; } = [];

    /// <summary><c>host</c> or <c>host:port</c>.</summary>
    public string HostPort => Port is int p ? $"{Host}:{p.ToString(CultureInfo.InvariantCulture)}" : Host;

    /// <summary><c>user@host</c> (or just the host), without scheme, port or parameters: how Active-Calls names an address.</summary>
    public string AddressOfRecord => User is null ? Host : $"{User}@{Host}";

    /// <summary>The <c>transport</c> parameter, lower case, or null.</summary>
    public string? Transport => Parameters["transport"]?.ToLowerInvariant();

    /// <summary>True when the URI has the <c>lr</c> parameter (a loose router, RFC 3261 §16.12).</summary>
    public bool IsLooseRouter => Parameters.Contains("lr");

    /// <summary>The host as an IP address when it is a literal (brackets removed for IPv6).</summary>
    public IPAddress? HostAddress
    {
        get
        {
            var h = Host.Length > 1 && Host[0] == '[' && Host[^1] == ']' ? Host[1..^1] : Host;
            return IPAddress.TryParse(h, out var ip) && (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || h.Count(c => c == '.') == 3) ? ip : null;
        }
    }

    public SipUri Clone()
    {
        var copy = Opaque is null ? new SipUri(Scheme, User, Host, Port) { Password = Password } : new SipUri(Scheme, Opaque);
        copy.Parameters = Parameters.Clone();
        copy.Headers = [.. Headers];
        return copy;
    }

    /// <summary>A copy with no parameters and no headers (e.g. for an address of record).</summary>
    public SipUri WithoutParametersAndHeaders()
    {
        var copy = Clone();
        copy.Parameters = new SipParameters();
        copy.Headers = [];
        return copy;
    }

    public static bool TryParse(string? text, out SipUri? uri)
    {
        uri = null;
        if (text is null) return false;
        try
        {
            uri = Parse(text);
            return true;
        }
        catch (SipParseException)
        {
            return false;
        }
    }

    public static SipUri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) throw new SipParseException($"'{text}' is not an absolute URI.");
        string scheme = text[..colon];
        if (!char.IsAsciiLetter(scheme[0]) || !scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
            throw new SipParseException($"Invalid URI scheme in '{text}'.");
        string rest = text[(colon + 1)..];
        if (!scheme.Equals("sip", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("sips", StringComparison.OrdinalIgnoreCase))
        {
            if (rest.Length == 0 || rest.Any(c => c <= ' ' || c is '<' or '>' or '"'))
                throw new SipParseException($"Invalid URI '{text}'.");
            return new SipUri(scheme, rest);
        }

        string? user = null, password = null;
        int at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            string userinfo = rest[..at];
            rest = rest[(at + 1)..];
            int pc = userinfo.IndexOf(':', StringComparison.Ordinal);
            string rawUser = pc < 0 ? userinfo : userinfo[..pc];
            if (rawUser.Length == 0) throw new SipParseException($"Empty user part in '{text}'.");
            foreach (var c in rawUser)
                if (!SipSyntax.IsUserChar(c) && c != '%') throw new SipParseException($"Invalid character '{c}' in the user part of '{text}'.");
            user = SipSyntax.Unescape(rawUser);
            if (pc >= 0)
            {
                string rawPassword = userinfo[(pc + 1)..];
                foreach (var c in rawPassword)
                    if (!SipSyntax.IsPasswordChar(c) && c != '%') throw new SipParseException($"Invalid character '{c}' in the password of '{text}'.");
                password = SipSyntax.Unescape(rawPassword);
            }
        }

        // hostport
        int i = 0;
        string host;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new SipParseException($"Unterminated IPv6 reference in '{text}'.");
            host = rest[..(close + 1)];
            if (!IPAddress.TryParse(host[1..^1], out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                throw new SipParseException($"Invalid IPv6 reference in '{text}'.");
            i = close + 1;
        }
        else
        {
            while (i < rest.Length && (char.IsAsciiLetterOrDigit(rest[i]) || rest[i] is '-' or '.')) i++;
            host = rest[..i];
            if (host.Length == 0) throw new SipParseException($"Missing host in '{text}'.");
            if (host.StartsWith('-') || host.StartsWith('.') || host.Contains("..", StringComparison.Ordinal))
                throw new SipParseException($"Invalid host '{host}' in '{text}'.");
        }

        int? port = null;
        if (i < rest.Length && rest[i] == ':')
        {
            int ps = ++i;
            while (i < rest.Length && char.IsAsciiDigit(rest[i])) i++;
            if (i == ps || i - ps > 5) throw new SipParseException($"Invalid port in '{text}'.");
            int p = int.Parse(rest.AsSpan(ps, i - ps), NumberStyles.None, CultureInfo.InvariantCulture);
            if (p is < 1 or > 65535) throw new SipParseException($"Port out of range in '{text}'.");
            port = p;
        }

        var uri = new SipUri(scheme, user, host, port) { Password = password };
        if (i < rest.Length)
        {
            if (rest[i] != ';' && rest[i] != '?') throw new SipParseException($"Unexpected '{rest[i]}' in '{text}'.");
            int q = rest.IndexOf('?', i);
            string paramText = q < 0 ? rest[i..] : rest[i..q];
            if (paramText.Length > 0) uri.Parameters = SipParameters.ParseUriParameters(paramText[1..]);
            if (q >= 0)
            {
                foreach (var h in rest[(q + 1)..].Split('&'))
                {
                    int eq = h.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0) throw new SipParseException($"Invalid URI header '{h}' in '{text}'.");
                    string hn = h[..eq], hv = h[(eq + 1)..];
                    if (!(hn + hv).All(c => SipSyntax.IsHeaderChar(c) || c == '%')) throw new SipParseException($"Invalid URI header '{h}' in '{text}'.");
                    SipSyntax.Unescape(hv);
                    uri.Headers.Add(new(hn, hv));
                }
            }
        }
        return uri;
    }

    public override string ToString()
    {
        if (Opaque is not null) return Scheme + ":" + Opaque;
        var sb = new StringBuilder(Scheme).Append(':');
        if (User is not null)
        {
            sb.Append(SipSyntax.Escape(User, SipSyntax.IsUserChar));
            if (Password is not null) sb.Append(':').Append(SipSyntax.Escape(Password, SipSyntax.IsPasswordChar));
            sb.Append('@');
        }
        sb.Append(HostPort);
        Parameters.AppendTo(sb);
        for (int i = 0; i < Headers.Count; i++)
            sb.Append(i == 0 ? '?' : '&').Append(Headers[i].Key).Append('=').Append(Headers[i].Value);
        return sb.ToString();
    }
}
