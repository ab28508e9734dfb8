using System.Text.RegularExpressions;

namespace Gateway.Api.Calls;

/// <summary>
/// The gateway's one grammar of SIP addresses (request validation, API key scopes and destinations, the events
/// account, address filters): <c>sip:user@domain</c> with no port, parameters or headers (the seed's format). The user
/// part allows RFC 3261's unreserved and user-unreserved characters (without <c>;</c> and <c>?</c>) and %-escapes; the
/// domain is a host name or IPv4 address. Scheme and domain are lower-cased, the user part kept.
/// </summary>
public static partial class SipUri
{
    public const int MaxLength = 256;

    private const string UserPattern = @"(?:[A-Za-z0-9\-_.!~*'()&=+$,/]|%[0-9A-Fa-f]{2})+";
    private const string HostPattern = @"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";

    [GeneratedRegex("^(?<user>" + UserPattern + ")@(?<host>" + HostPattern + ")$")]
    private static partial Regex UserAtHost();

    [GeneratedRegex("^" + UserPattern + "$")]
    private static partial Regex User();

    [GeneratedRegex("^" + HostPattern + "$")]
    private static partial Regex HostName();

    [GeneratedRegex(@"^\+?[0-9]{3,20}$")]
    private static partial Regex PhoneNumber();

    /// <summary>Checks and normalises a SIP URI.</summary>
    /// <param name="allowPstnShorthand">Also accept <c>&lt;digits&gt;@domain</c> without the scheme (OnSIP's PSTN form,
    /// e.g. <c>15555554567@example.onsip.com</c>), returned as <c>sip:15555554567@example.onsip.com</c>.</param>
    /// <returns>null when valid, else why not (a sentence for the client).</returns>
    public static string? Validate(string? value, bool allowPstnShorthand, out string normalized)
    {
        normalized = "";
        if (string.IsNullOrWhiteSpace(value)) return "is required.";
        var text = value.Trim();
        if (text.Length > MaxLength) return $"must be at most {MaxLength} characters.";
        string rest;
        if (text.StartsWith("sip:", StringComparison.OrdinalIgnoreCase)) rest = text[4..];
        else if (allowPstnShorthand && text.IndexOf('@', StringComparison.Ordinal) is > 0 and var at && PhoneNumber().IsMatch(text[..at])) rest = text;
        else if (HasOtherScheme(text))
            return "must be a sip: URI (sips: and tel: are not supported by the Active-Calls service).";
        else
            return allowPstnShorthand
                ? "must be a SIP URI 'sip:user@domain', or a phone number as '<digits>@domain'."
                : "must be a SIP URI 'sip:user@domain'.";

        var match = UserAtHost().Match(rest);
        if (!match.Success)
        {
            if (rest.Contains(';', StringComparison.Ordinal) || rest.Contains('?', StringComparison.Ordinal))
                return "must be a plain 'sip:user@domain' without URI parameters or headers.";
            if (rest.LastIndexOf(':') > rest.IndexOf('@', StringComparison.Ordinal) && rest.Contains('@', StringComparison.Ordinal))
                return "must be a plain 'sip:user@domain' without a port.";
            return "must be a SIP URI 'sip:user@domain' (user: letters, digits and -_.!~*'()&=+$,/ or %XX escapes; domain: a host name or IPv4 address).";
        }
        normalized = "sip:" + match.Groups["user"].Value + "@" + match.Groups["host"].Value.ToLowerInvariant();
        return null;
    }

    /// <summary>The <c>user@domain</c> address of a SIP URI or AOR as PubSub items carry them (<c>sip:</c>/<c>sips:</c>,
    /// display brackets, parameters, headers and a port are dropped; the domain is lower-cased), or null.</summary>
    public static string? AddressOf(string? uriOrAor)
    {
        if (string.IsNullOrWhiteSpace(uriOrAor)) return null;
        var text = uriOrAor.Trim();
        var open = text.IndexOf('<', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = text.IndexOf('>', open + 1);
            text = close > open ? text[(open + 1)..close] : text[(open + 1)..];
        }
        if (text.StartsWith("sip:", StringComparison.OrdinalIgnoreCase)) text = text[4..];
        else if (text.StartsWith("sips:", StringComparison.OrdinalIgnoreCase)) text = text[5..];
        var cut = text.IndexOfAny([';', '?']);
        if (cut >= 0) text = text[..cut];
        var at = text.LastIndexOf('@');
        if (at <= 0 || at == text.Length - 1) return null;
        var host = text[(at + 1)..];
        var colon = host.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0) host = host[..colon];
        return host.Length == 0 ? null : text[..at] + "@" + host.ToLowerInvariant();
    }

    /// <summary>Whether <paramref name="text"/> is a <c>sips:</c> or <c>tel:</c> URI, which the Active-Calls service does not take.</summary>
    public static bool HasOtherScheme(string text) =>
        text.StartsWith("sips:", StringComparison.OrdinalIgnoreCase) || text.StartsWith("tel:", StringComparison.OrdinalIgnoreCase);

    /// <summary><paramref name="text"/> without a leading <c>sip:</c> (in any case).</summary>
    public static string WithoutScheme(string text) => text.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? text[4..] : text;

    /// <summary>Splits <c>user@domain</c> or <c>sip:user@domain</c> at its one <c>@</c>, both sides non-empty. The parts
    /// are not checked, so address patterns (<c>*@example.com</c>) split too: see <see cref="IsUser"/> and <see cref="Host"/>.</summary>
    public static bool TrySplit(string? text, out string user, out string domain)
    {
        user = domain = "";
        if (text is null) return false;
        var rest = WithoutScheme(text);
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == rest.Length - 1 || at != rest.LastIndexOf('@')) return false;
        (user, domain) = (rest[..at], rest[(at + 1)..]);
        return true;
    }

    /// <summary>Whether <paramref name="user"/> is a user part of the grammar.</summary>
    public static bool IsUser(string? user) => user is not null && User().IsMatch(user);

    /// <summary><paramref name="domain"/> lower-cased when it is a host name or IPv4 address, else null.</summary>
    public static string? Host(string? domain) => domain is not null && HostName().IsMatch(domain) ? domain.ToLowerInvariant() : null;

    /// <summary>The user part and the domain of an address that <see cref="AddressOf"/> returned.</summary>
    public static (string User, string Domain) PartsOf(string address)
    {
        var at = address.LastIndexOf('@');
        return (address[..at], address[(at + 1)..]);
    }
}
