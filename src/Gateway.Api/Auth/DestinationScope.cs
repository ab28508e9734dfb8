using System.Text.RegularExpressions;
using Gateway.Api.Calls;

namespace Gateway.Api.Auth;

/// <summary>
/// What an API key may call: the <c>to</c> of <c>POST /calls</c> and the <c>target</c> of a transfer (toll fraud:
/// without it a key that acts for one address could ring any number). <c>Gateway:ApiKeys:N:Destinations</c>, each one of:
/// <list type="table">
/// <item><term><c>*</c></term><description>anything, phone numbers included;</description></item>
/// <item><term><c>sip:bob@example.com</c> or <c>bob@example.com</c></term><description>that address (user part as
/// written, domain in any case);</description></item>
/// <item><term><c>*@example.com</c></term><description>every named user of the domain, but none of its phone numbers;</description></item>
/// <item><term><c>*@*</c></term><description>every named user of every domain, no phone number;</description></item>
/// <item><term><c>1555*@example.com</c>, <c>+44*@example.com</c></term><description>the phone numbers dialled at the
/// domain that start with these digits (the <c>+</c> as written).</description></item>
/// </list>
/// A user part with no letter in it (after %-decoding) is a phone number, however it is written: <c>15555554567</c>,
/// <c>+1-555-555-4567</c>, <c>(555)555.4567</c>, <c>*6715555554567</c>. OnSIP dials the PSTN as numbers at the
/// account's own domain, so a domain pattern that took them would let every number through; only <c>*</c>, the exact
/// address or a number prefix allows one. A prefix matches the number without the visual separators <c>-.()</c> and
/// only when what is left is digits (after an optional <c>+</c>).
/// </summary>
public sealed partial class DestinationScope
{
    private readonly bool _all;
    private readonly bool _namedUsersAnywhere;
    private readonly HashSet<string> _namedUserDomains = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _addresses = new(StringComparer.Ordinal);
    private readonly List<(string Digits, string Domain)> _numberPrefixes = [];

    [GeneratedRegex(@"^\+?[0-9]+\*$")]
    private static partial Regex NumberPrefixPattern();

    [GeneratedRegex(@"^\+?[0-9]+$")]
    private static partial Regex Digits();

    /// <summary>The scope of these patterns; one that is not well formed (see <see cref="Problem"/>) allows nothing.</summary>
    public DestinationScope(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        Patterns = [.. patterns];
        foreach (var raw in Patterns)
        {
            if (!TryParse(raw, out var pattern, out _)) continue;
            switch (pattern.Kind)
            {
                case PatternKind.All: _all = true; break;
                case PatternKind.NamedUsersAnywhere: _namedUsersAnywhere = true; break;
                case PatternKind.NamedUsersOf: _namedUserDomains.Add(pattern.Domain); break;
                case PatternKind.Address: _addresses.Add(pattern.Value); break;
                case PatternKind.NumberPrefix: _numberPrefixes.Add((pattern.Value, pattern.Domain)); break;
            }
        }
    }

    /// <summary>The patterns as configured (or defaulted), for messages and logs.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Whether the key may call <paramref name="uriOrAddress"/> (a SIP URI or <c>user@domain</c>).</summary>
    public bool Allows(string? uriOrAddress)
    {
        if (_all) return true;
        if (SipUri.AddressOf(uriOrAddress) is not { } address) return false;
        if (_addresses.Contains(address)) return true;
        var (user, domain) = SipUri.PartsOf(address);
        if (PhoneNumber(user) is not { } number) return _namedUsersAnywhere || _namedUserDomains.Contains(domain);
        return Digits().IsMatch(number) &&
               _numberPrefixes.Exists(p => number.StartsWith(p.Digits, StringComparison.Ordinal) && string.Equals(p.Domain, domain, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Whether the address's user part is a phone number (has no letter), which only <c>*</c>, the exact address
    /// or a number prefix allows.</summary>
    public static bool IsPhoneNumber(string? uriOrAddress) =>
        SipUri.AddressOf(uriOrAddress) is { } address && PhoneNumber(SipUri.PartsOf(address).User) is not null;

    /// <summary>The number a user part dials, without visual separators; null when it names a user (it has a letter).</summary>
    internal static string? PhoneNumber(string user)
    {
        var decoded = Uri.UnescapeDataString(user);
        return decoded.Any(char.IsLetter) ? null : string.Concat(decoded.Where(c => c is not ('-' or '.' or '(' or ')')));
    }

    /// <summary>
    /// A key configured without destinations may call the named users (no phone number) of the domains it acts for, and
    /// its own addresses: <c>alice@example.com</c> → <c>*@example.com</c> and <c>alice@example.com</c>;
    /// <c>*@example.com</c> → <c>*@example.com</c>; <c>*</c> → <c>*@*</c>. Internal calls keep working across an
    /// upgrade, and no key reaches the PSTN or another domain's users before someone decides it may.
    /// </summary>
    public static IReadOnlyList<string> DefaultFor(IEnumerable<string> addressScopes)
    {
        ArgumentNullException.ThrowIfNull(addressScopes);
        var patterns = new List<string>();
        foreach (var raw in addressScopes)
        {
            var scope = raw.Trim();
            if (scope == "*") patterns.Add("*@*");
            else if (SipUri.TrySplit(scope, out var user, out var domain) && user == "*") patterns.Add("*@" + domain.ToLowerInvariant());
            else if (SipUri.AddressOf(scope) is { } address)
            {
                patterns.Add("*@" + SipUri.PartsOf(address).Domain);
                patterns.Add(address);
            }
        }
        return [.. patterns.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Why <paramref name="pattern"/> is not a destination pattern, or null when it is one.</summary>
    public static string? Problem(string? pattern) => TryParse(pattern, out _, out var problem) ? null : problem;

    private enum PatternKind { All, NamedUsersAnywhere, NamedUsersOf, Address, NumberPrefix }

    /// <param name="Value">The address (<c>user@domain</c>) or the number prefix (without its <c>*</c>).</param>
    private readonly record struct Pattern(PatternKind Kind, string Domain = "", string Value = "");

    private static bool TryParse(string? raw, out Pattern pattern, out string problem)
    {
        pattern = default;
        problem = "";
        var text = raw?.Trim() ?? "";
        if (text.Length == 0) return Fail("is empty", out problem);
        if (text == "*")
        {
            pattern = new Pattern(PatternKind.All);
            return true;
        }
        if (SipUri.HasOtherScheme(text)) return Fail("is a sips: or tel: URI; destinations are sip: addresses", out problem);
        if (!SipUri.TrySplit(text, out var user, out var domain))
        {
            var bare = SipUri.WithoutScheme(text);
            return NumberPrefixPattern().IsMatch(bare)
                ? Fail($"has no domain: a number prefix names the domain its numbers are dialled at ('{bare}@example.com')", out problem)
                : Fail("is not 'user@domain'", out problem);
        }
        if (domain == "*")
        {
            if (user != "*") return Fail("has '*' as its domain, which only '*@*' may", out problem);
            pattern = new Pattern(PatternKind.NamedUsersAnywhere);
            return true;
        }
        if (SipUri.Host(domain) is not { } host)
            return Fail($"has no valid domain ('{domain}' is not a host name or IPv4 address)", out problem);
        domain = host;
        if (user == "*") pattern = new Pattern(PatternKind.NamedUsersOf, domain);
        else if (NumberPrefixPattern().IsMatch(user)) pattern = new Pattern(PatternKind.NumberPrefix, domain, user[..^1]);
        else if (user.Contains('*', StringComparison.Ordinal))
            return Fail("uses '*' other than as the whole user part ('*@example.com') or at the end of digits ('1555*@example.com', '+44*@example.com')", out problem);
        else if (!SipUri.IsUser(user))
            return Fail("is not a SIP address (a user part of letters, digits, -_.!~'()&=+$,/ and %XX escapes)", out problem);
        else pattern = new Pattern(PatternKind.Address, domain, user + "@" + domain);
        return true;

        static bool Fail(string why, out string problem)
        {
            problem = why;
            return false;
        }
    }
}
