using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>A <c>WWW-Authenticate</c>/<c>Proxy-Authenticate</c> Digest challenge (RFC 2617, RFC 7616).</summary>
public sealed record DigestChallenge(string Realm, string Nonce, string? Opaque, string Algorithm, IReadOnlyList<string> Qop, bool Stale)
{
    /// <summary>Parses one challenge; null when it is not Digest or lacks realm/nonce.</summary>
    public static DigestChallenge? Parse(string header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var text = header.Trim();
        if (!text.StartsWith("Digest", StringComparison.OrdinalIgnoreCase) || (text.Length > 6 && !char.IsWhiteSpace(text[6]))) return null;
        var p = ParseParams(text[6..]);
        if (!p.TryGetValue("realm", out var realm) || !p.TryGetValue("nonce", out var nonce)) return null;
        var qop = p.TryGetValue("qop", out var q)
            ? q.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [];
        return new DigestChallenge(realm, nonce, p.GetValueOrDefault("opaque"), p.GetValueOrDefault("algorithm") ?? "MD5", qop,
            string.Equals(p.GetValueOrDefault("stale"), "true", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>auth-params: <c>name=token</c> or <c>name="quoted"</c>, comma separated.</summary>
    internal static Dictionary<string, string> ParseParams(string s)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && (char.IsWhiteSpace(s[i]) || s[i] == ',')) i++;
            int ns = i;
            while (i < s.Length && SipSyntax.IsTokenChar(s[i])) i++;
            if (i == ns) break;
            var name = s[ns..i];
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            if (i >= s.Length || s[i] != '=') { result[name] = ""; continue; }
            i++;
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            string value;
            if (i < s.Length && s[i] == '"') value = SipSyntax.ReadQuoted(s, ref i);
            else
            {
                int vs = i;
                while (i < s.Length && s[i] != ',' && !char.IsWhiteSpace(s[i])) i++;
                value = s[vs..i];
            }
            result[name] = value;
        }
        return result;
    }

    /// <summary>True when this stack can compute the algorithm (MD5, MD5-sess, SHA-256, SHA-256-sess).</summary>
    public bool IsSupported => DigestAuthentication.HashFor(Algorithm) is not null && (Qop.Count == 0 || Qop.Contains("auth", StringComparer.OrdinalIgnoreCase));
}

/// <summary>Computes Digest credentials (RFC 2617 MD5 with qop=auth or none; RFC 7616 SHA-256).</summary>
public static class DigestAuthentication
{
    /// <summary>The best challenge of a response among those we can answer (SHA-256 preferred over MD5).</summary>
    public static DigestChallenge? SelectChallenge(SipResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var name = response.StatusCode == 407 ? "Proxy-Authenticate" : "WWW-Authenticate";
        var supported = response.Headers.GetFields(name).Select(DigestChallenge.Parse).OfType<DigestChallenge>().Where(c => c.IsSupported).ToList();
        return supported.FirstOrDefault(c => c.Algorithm.StartsWith("SHA-256", StringComparison.OrdinalIgnoreCase)) ?? supported.FirstOrDefault();
    }

    /// <summary>The header that answers a 401 (Authorization) or a 407 (Proxy-Authorization).</summary>
    public static string AnswerHeaderFor(int status) => status == 407 ? "Proxy-Authorization" : "Authorization";

    /// <summary>The credentials value for <paramref name="method"/> on <paramref name="digestUri"/>.</summary>
    public static string CreateAuthorization(DigestChallenge challenge, string method, string digestUri, string username, string password, int nonceCount, string? cnonce = null)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        var hash = HashFor(challenge.Algorithm) ?? throw new NotSupportedException($"Digest algorithm {challenge.Algorithm} is not supported.");
        bool qopAuth = challenge.Qop.Contains("auth", StringComparer.OrdinalIgnoreCase);
        bool sess = challenge.Algorithm.EndsWith("-sess", StringComparison.OrdinalIgnoreCase);
        cnonce ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var nc = nonceCount.ToString("x8", CultureInfo.InvariantCulture);

        var ha1 = hash($"{username}:{challenge.Realm}:{password}");
        if (sess) ha1 = hash($"{ha1}:{challenge.Nonce}:{cnonce}");
        var ha2 = hash($"{method}:{digestUri}");
        var response = qopAuth ? hash($"{ha1}:{challenge.Nonce}:{nc}:{cnonce}:auth:{ha2}") : hash($"{ha1}:{challenge.Nonce}:{ha2}");

        var sb = new StringBuilder("Digest ")
            .Append("username=").Append(SipSyntax.Quote(username))
            .Append(", realm=").Append(SipSyntax.Quote(challenge.Realm))
            .Append(", nonce=").Append(SipSyntax.Quote(challenge.Nonce))
            .Append(", uri=").Append(SipSyntax.Quote(digestUri))
            .Append(", response=").Append(SipSyntax.Quote(response))
            .Append(", algorithm=").Append(challenge.Algorithm);
        if (challenge.Opaque is not null) sb.Append(", opaque=").Append(SipSyntax.Quote(challenge.Opaque));
        if (qopAuth) sb.Append(", qop=auth, nc=").Append(nc).Append(", cnonce=").Append(SipSyntax.Quote(cnonce));
        return sb.ToString();
    }

    internal static Func<string, string>? HashFor(string algorithm)
    {
        var a = algorithm.ToUpperInvariant();
        if (a is "MD5" or "MD5-SESS") return Md5Hex;
        if (a is "SHA-256" or "SHA-256-SESS") return s => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
        return null;
    }

#pragma warning disable CA5351 // MD5 is what RFC 2617/3261 Digest mandates; it is the peer's choice, not ours.
    private static string Md5Hex(string s) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s)));
#pragma warning restore CA5351
}
