namespace Gateway.Xmpp.Framing;

/// <summary>
/// Turns the names (and namespace URIs) a stream keeps repeating into the same string instances,
/// so a steady flow of stanzas does not allocate a new string for every tag and prefix.
/// Bounded, so a peer inventing names cannot grow it without limit; past the bound it just allocates.
/// </summary>
internal sealed class NameCache
{
    private const int MaxEntries = 1024;
    private const int MaxLength = 128;

    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public NameCache() => _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();

    public string Get(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty) return string.Empty;
        if (_lookup.TryGetValue(value, out var cached)) return cached;
        var created = new string(value);
        if (value.Length <= MaxLength && _strings.Count < MaxEntries) _strings.Add(created);
        return created;
    }
}
