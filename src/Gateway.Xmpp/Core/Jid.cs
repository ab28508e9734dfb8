namespace Gateway.Xmpp.Core;

/// <summary>An XMPP address (RFC 7622): <c>local@domain/resource</c>, compared case-insensitively on local and domain.</summary>
/// <remarks>Full stringprep/PRECIS is not applied; local and domain are lower-cased, which covers the ASCII addresses
/// OnSIP and Prosody use. Parsing rejects the characters RFC 7622 forbids in a localpart.</remarks>
public sealed record Jid
{
    private const int MaxPartLength = 1023;
    private static readonly System.Buffers.SearchValues<char> DomainForbidden = System.Buffers.SearchValues.Create("@/ ");
    private static readonly System.Buffers.SearchValues<char> LocalForbidden = System.Buffers.SearchValues.Create("\"&'/:<>@ ");

    public string? Local { get; }
    public string Domain { get; }
    public string? Resource { get; }

    public Jid(string? local, string domain, string? resource = null)
    {
        if (string.IsNullOrEmpty(domain) || domain.Length > MaxPartLength || domain.AsSpan().IndexOfAny(DomainForbidden) >= 0)
            throw new FormatException($"Invalid JID domain '{domain}'.");
        if (local is not null && (local.Length == 0 || local.Length > MaxPartLength || local.AsSpan().IndexOfAny(LocalForbidden) >= 0))
            throw new FormatException($"Invalid JID localpart '{local}'.");
        if (resource is not null && (resource.Length == 0 || resource.Length > MaxPartLength))
            throw new FormatException($"Invalid JID resource '{resource}'.");
        Local = local?.ToLowerInvariant();
        Domain = domain.ToLowerInvariant();
        Resource = resource;
    }

    public static Jid Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var resource = slash >= 0 ? value[(slash + 1)..] : null;
        var bare = slash >= 0 ? value[..slash] : value;
        var at = bare.IndexOf('@', StringComparison.Ordinal);
        return at >= 0 ? new Jid(bare[..at], bare[(at + 1)..], resource) : new Jid(null, bare, resource);
    }

    public static bool TryParse(string? value, out Jid? jid)
    {
        jid = null;
        if (string.IsNullOrEmpty(value)) return false;
        try { jid = Parse(value); return true; }
        catch (FormatException) { return false; }
    }

    /// <summary>Parses an optional address attribute: an absent value is fine (null), a malformed one is not.</summary>
    public static bool TryParseOptional(string? value, out Jid? jid)
    {
        if (value is null)
        {
            jid = null;
            return true;
        }
        return TryParse(value, out jid);
    }

    public bool IsBare => Resource is null;
    public Jid Bare => Resource is null ? this : new Jid(Local, Domain);
    public Jid WithResource(string resource) => new(Local, Domain, resource);

    public override string ToString() =>
        (Local is null ? Domain : $"{Local}@{Domain}") + (Resource is null ? "" : "/" + Resource);

    public static implicit operator string(Jid jid) => jid.ToString();
}
