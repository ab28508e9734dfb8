namespace ActiveCalls.Sip.Messages;

/// <summary>One header field as it appeared (name in its canonical long form, value unfolded and trimmed).</summary>
public sealed record SipHeaderField(string Name, string Value);

/// <summary>
/// The header fields of a message, in order. Names compare case-insensitively and compact forms (<c>v</c>, <c>i</c>,
/// <c>f</c>…) are stored under their long names. Headers whose grammar is a comma-separated list (Via, Route,
/// Record-Route, Contact, Allow, Supported…) may arrive as several fields or as one field with commas;
/// <see cref="GetValues"/> returns the elements either way.
/// </summary>
public sealed class SipHeaders : IEnumerable<SipHeaderField>
{
    private static readonly Dictionary<string, string> Compact = new(StringComparer.OrdinalIgnoreCase)
    {
        ["a"] = "Accept-Contact", ["b"] = "Referred-By", ["c"] = "Content-Type", ["d"] = "Request-Disposition",
        ["e"] = "Content-Encoding", ["f"] = "From", ["i"] = "Call-ID", ["j"] = "Reject-Contact", ["k"] = "Supported",
        ["l"] = "Content-Length", ["m"] = "Contact", ["n"] = "Identity-Info", ["o"] = "Event", ["r"] = "Refer-To",
        ["s"] = "Subject", ["t"] = "To", ["u"] = "Allow-Events", ["v"] = "Via", ["x"] = "Session-Expires", ["y"] = "Identity",
    };

    private static readonly Dictionary<string, string> Canonical = new[]
    {
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info", "Authorization",
        "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
        "Content-Type", "CSeq", "Date", "Error-Info", "Expires", "From", "In-Reply-To", "Max-Forwards", "MIME-Version",
        "Min-Expires", "Organization", "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require",
        "Record-Route", "Reply-To", "Require", "Retry-After", "Route", "Server", "Subject", "Supported", "Timestamp", "To",
        "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate", "RSeq", "RAck", "Event", "Refer-To",
        "Referred-By", "Allow-Events", "Session-Expires", "Min-SE", "Replaces", "P-Asserted-Identity", "Reason",
    }.ToDictionary(n => n, StringComparer.OrdinalIgnoreCase);

    /// <summary>Headers whose value is a comma-separated list (RFC 3261 §7.3.1). WWW-Authenticate & co are not: their
    /// commas separate auth-params.</summary>
    private static readonly HashSet<string> ListHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require", "Proxy-Require", "Unsupported",
        "Accept", "Accept-Encoding", "Accept-Language", "Content-Encoding", "Content-Language", "Allow-Events",
        "Alert-Info", "Call-Info", "Error-Info", "In-Reply-To", "Reply-To", "Warning", "P-Asserted-Identity", "Reason",
    };

    private readonly List<SipHeaderField> _fields = [];

    public int Count => _fields.Count;

    /// <summary>The long, canonically cased name for <paramref name="name"/> (compact forms expanded).</summary>
    public static string NormalizeName(string name)
    {
        if (name.Length == 1 && Compact.TryGetValue(name, out var full)) return full;
        return Canonical.TryGetValue(name, out var canonical) ? canonical : name;
    }

    public static bool IsListHeader(string name) => ListHeaders.Contains(NormalizeName(name));

    public void Add(string name, string value) => _fields.Add(new SipHeaderField(NormalizeName(name), value));

    /// <summary>Inserts a field before every other field of the same name (or at the end when there is none).</summary>
    public void AddFirst(string name, string value)
    {
        name = NormalizeName(name);
        int i = IndexOf(name);
        _fields.Insert(i < 0 ? _fields.Count : i, new SipHeaderField(name, value));
    }

    /// <summary>Replaces every field named <paramref name="name"/> with one field (at the first one's place).</summary>
    public void Set(string name, string value)
    {
        name = NormalizeName(name);
        int i = IndexOf(name);
        if (i >= 0) RemoveFrom(i, name);
        _fields.Insert(i < 0 ? _fields.Count : i, new SipHeaderField(name, value));
    }

    /// <summary>Replaces the fields named <paramref name="name"/> with one field per value (none when empty).</summary>
    public void SetAll(string name, IEnumerable<string> values)
    {
        name = NormalizeName(name);
        int i = IndexOf(name);
        if (i >= 0) RemoveFrom(i, name);
        else i = _fields.Count;
        foreach (var v in values) _fields.Insert(i++, new SipHeaderField(name, v));
    }

    public int Remove(string name)
    {
        name = NormalizeName(name);
        int i = IndexOf(name);
        return i < 0 ? 0 : RemoveFrom(i, name);
    }

    public bool Contains(string name) => IndexOf(NormalizeName(name)) >= 0;

    /// <summary>The first field's value, or null.</summary>
    public string? this[string name] => Get(name);

    public string? Get(string name)
    {
        int i = IndexOf(NormalizeName(name));
        return i < 0 ? null : _fields[i].Value;
    }

    /// <summary>The raw value of every field named <paramref name="name"/>, in order (no comma splitting).</summary>
    public IReadOnlyList<string> GetFields(string name)
    {
        name = NormalizeName(name);
        List<string>? values = null;
        foreach (var f in _fields)
            if (Is(f, name)) (values ??= []).Add(f.Value);
        return values ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Every element of a header, in order: list headers are split at their top-level commas.</summary>
    public IReadOnlyList<string> GetValues(string name)
    {
        name = NormalizeName(name);
        bool list = ListHeaders.Contains(name);
        var values = new List<string>();
        foreach (var f in _fields)
        {
            if (!Is(f, name)) continue;
            if (list) values.AddRange(SipSyntax.SplitList(f.Value));
            else values.Add(f.Value);
        }
        return values;
    }

    public SipHeaders Clone()
    {
        var copy = new SipHeaders();
        copy._fields.AddRange(_fields);
        return copy;
    }

    private static bool Is(SipHeaderField f, string normalizedName) => string.Equals(f.Name, normalizedName, StringComparison.OrdinalIgnoreCase);

    // Loops rather than List's predicate methods: a header is looked up several times per message, and each predicate
    // was a closure and a delegate allocated per call (about a tenth of the SIP engine's allocations).
    private int IndexOf(string normalizedName)
    {
        for (int i = 0; i < _fields.Count; i++)
            if (Is(_fields[i], normalizedName)) return i;
        return -1;
    }

    /// <summary>Removes the fields named <paramref name="normalizedName"/> from index <paramref name="first"/> on; returns how many.</summary>
    private int RemoveFrom(int first, string normalizedName)
    {
        int kept = first;
        for (int i = first; i < _fields.Count; i++)
            if (!Is(_fields[i], normalizedName)) _fields[kept++] = _fields[i];
        int removed = _fields.Count - kept;
        _fields.RemoveRange(kept, removed);
        return removed;
    }

    public IEnumerator<SipHeaderField> GetEnumerator() => _fields.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
