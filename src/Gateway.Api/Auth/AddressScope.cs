using Gateway.Api.Calls;

namespace Gateway.Api.Auth;

/// <summary>
/// The SIP addresses an API key acts for: <c>alice@example.com</c> (one address; the user part compared exactly, the
/// domain case-insensitively), <c>*@example.com</c> (every address of a domain) or <c>*</c> (everything).
/// </summary>
public sealed class AddressScope
{
    private static readonly System.Buffers.SearchValues<char> NotInDomain = System.Buffers.SearchValues.Create(" ;?:/<>");
    private static readonly System.Buffers.SearchValues<char> NotInUser = System.Buffers.SearchValues.Create(" ;?:<>");
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
            else if (scope.StartsWith("*@", StringComparison.Ordinal)) _domains.Add(scope[2..]);
            else if (SipUri.AddressOf(scope) is { } address) _addresses.Add(address);
        }
    }

    public static bool IsWellFormed(string? scope)
    {
        if (string.IsNullOrWhiteSpace(scope)) return false;
        scope = scope.Trim();
        if (scope == "*") return true;
        var at = scope.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != scope.LastIndexOf('@') || at == scope.Length - 1) return false;
        var user = scope[..at];
        var domain = scope[(at + 1)..];
        if (domain.Contains('*', StringComparison.Ordinal) || domain.AsSpan().IndexOfAny(NotInDomain) >= 0) return false;
        return user == "*" || (!user.Contains('*', StringComparison.Ordinal) && user.AsSpan().IndexOfAny(NotInUser) < 0);
    }

    /// <summary>Whether the key acts for <paramref name="uriOrAddress"/> (a SIP URI, an AOR or <c>user@domain</c>).</summary>
    public bool Allows(string? uriOrAddress)
    {
        if (_all) return true;
        if (SipUri.AddressOf(uriOrAddress) is not { } address) return false;
        if (_addresses.Contains(address)) return true;
        return _domains.Contains(address[(address.LastIndexOf('@') + 1)..]);
    }

    /// <summary>Whether any of <paramref name="addresses"/> is in scope.</summary>
    public bool AllowsAny(IEnumerable<string?> addresses) => _all || addresses.Any(Allows);
}
