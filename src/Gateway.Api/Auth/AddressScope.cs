using Gateway.Api.Calls;

namespace Gateway.Api.Auth;

/// <summary>
/// The SIP addresses an API key acts for: <c>alice@example.com</c> (one address; the user part compared exactly, the
/// domain case-insensitively), <c>*@example.com</c> (every address of a domain) or <c>*</c> (everything).
/// </summary>
public sealed class AddressScope
{
    private readonly bool _all;
    private readonly HashSet<string> _domains = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _addresses = new(StringComparer.Ordinal);

    public AddressScope(IEnumerable<string> scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        foreach (var raw in scopes)
        {
            var scope = raw.Trim();
            if (scope == "*") _all = true;
            else if (SipUri.TrySplit(scope, out var user, out var domain) && user == "*") _domains.Add(domain);
            else if (SipUri.AddressOf(scope) is { } address) _addresses.Add(address);
        }
    }

    /// <summary>Whether <paramref name="scope"/> is <c>*</c>, or <c>user@domain</c> / <c>*@domain</c> in the
    /// <see cref="SipUri"/> grammar (a <c>sip:</c> prefix allowed).</summary>
    public static bool IsWellFormed(string? scope)
    {
        if (string.IsNullOrWhiteSpace(scope)) return false;
        scope = scope.Trim();
        if (scope == "*") return true;
        return SipUri.TrySplit(scope, out var user, out var domain) && SipUri.Host(domain) is not null &&
               (user == "*" || (!user.Contains('*', StringComparison.Ordinal) && SipUri.IsUser(user)));
    }

    /// <summary>Scope <c>*</c>: the key acts for every address, which makes it the gateway's administrator key.</summary>
    public bool AllowsEverything => _all;

    /// <summary>Whether the key acts for <paramref name="uriOrAddress"/> (a SIP URI, an AOR or <c>user@domain</c>).</summary>
    public bool Allows(string? uriOrAddress)
    {
        if (_all) return true;
        if (SipUri.AddressOf(uriOrAddress) is not { } address) return false;
        return _addresses.Contains(address) || _domains.Contains(SipUri.PartsOf(address).Domain);
    }

    /// <summary>Whether any of <paramref name="addresses"/> is in scope.</summary>
    public bool AllowsAny(IEnumerable<string?> addresses) => _all || addresses.Any(Allows);
}
