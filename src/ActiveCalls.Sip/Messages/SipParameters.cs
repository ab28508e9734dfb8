using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>One <c>;name[=value]</c> parameter. <see cref="Value"/> is kept as it appeared (escaped, or quoted with its
/// quotes), null for a flag parameter such as <c>;lr</c> or a bare <c>;rport</c>.</summary>
public sealed record SipParameter(string Name, string? Value);

/// <summary>An ordered list of parameters whose names compare case-insensitively (RFC 3261 §19.1.4, §20).</summary>
public sealed class SipParameters : IEnumerable<SipParameter>
{
    private readonly List<SipParameter> _items = [];

    public int Count => _items.Count;

    public bool Contains(string name) => IndexOf(name) >= 0;

    /// <summary>The raw value of <paramref name="name"/>, null if it is absent or a flag.</summary>
    public string? this[string name]
    {
        get
        {
            int i = IndexOf(name);
            return i < 0 ? null : _items[i].Value;
        }
        set => Set(name, value);
    }

    /// <summary>The value with surrounding quotes removed and quoted-pairs resolved.</summary>
    public string? GetUnquoted(string name)
    {
        var v = this[name];
        if (v is null || v.Length < 2 || v[0] != '"') return v;
        int i = 0;
        return SipSyntax.ReadQuoted(v, ref i);
    }

    /// <summary>Adds or replaces <paramref name="name"/> (keeping its position when it exists).</summary>
    public void Set(string name, string? value)
    {
        int i = IndexOf(name);
        if (i >= 0) _items[i] = new SipParameter(_items[i].Name, value);
        else _items.Add(new SipParameter(name, value));
    }

    public bool Remove(string name)
    {
        int i = IndexOf(name);
        if (i < 0) return false;
        _items.RemoveAt(i);
        return true;
    }

    public SipParameters Clone()
    {
        var copy = new SipParameters();
        copy._items.AddRange(_items);
        return copy;
    }

    private int IndexOf(string name)
    {
        // A loop, not FindIndex: its predicate was a closure and a delegate allocated on every lookup.
        for (int i = 0; i < _items.Count; i++)
            if (string.Equals(_items[i].Name, name, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    public void AppendTo(StringBuilder sb)
    {
        foreach (var p in _items)
        {
            sb.Append(';').Append(p.Name);
            if (p.Value is not null) sb.Append('=').Append(p.Value);
        }
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendTo(sb);
        return sb.ToString();
    }

    public IEnumerator<SipParameter> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Parses header parameters (<c>*( SEMI generic-param )</c>) from <paramref name="s"/> at <paramref name="i"/>, which
    /// is on a ';' or at the end. Whitespace around ';' and '=' is allowed; values may be quoted strings.
    /// </summary>
    internal static SipParameters ParseHeaderParameters(string s, ref int i)
    {
        var result = new SipParameters();
        while (true)
        {
            SipSyntax.SkipWhitespace(s, ref i);
            if (i >= s.Length) return result;
            if (s[i] != ';') throw new SipParseException($"Unexpected '{s[i]}' in header parameters of '{s}'.");
            i++;
            SipSyntax.SkipWhitespace(s, ref i);
            int start = i;
            while (i < s.Length && SipSyntax.IsTokenChar(s[i])) i++;
            if (i == start) throw new SipParseException($"Empty parameter name in '{s}'.");
            string name = s[start..i];
            SipSyntax.SkipWhitespace(s, ref i);
            string? value = null;
            if (i < s.Length && s[i] == '=')
            {
                i++;
                SipSyntax.SkipWhitespace(s, ref i);
                if (i < s.Length && s[i] == '"')
                {
                    int q = i;
                    SipSyntax.ReadQuoted(s, ref i);
                    value = s[q..i];
                }
                else
                {
                    int vs = i;
                    // token / host (IPv6 references included)
                    while (i < s.Length && (SipSyntax.IsTokenChar(s[i]) || s[i] is ':' or '[' or ']')) i++;
                    if (i == vs) throw new SipParseException($"Empty value of parameter '{name}' in '{s}'.");
                    value = s[vs..i];
                }
            }
            result._items.Add(new SipParameter(name, value));
        }
    }

    /// <summary>Parses URI parameters: <paramref name="s"/> is the text after the first ';' up to '?' or the end.</summary>
    internal static SipParameters ParseUriParameters(string s)
    {
        var result = new SipParameters();
        if (s.Length == 0) return result;
        foreach (var part in s.Split(';'))
        {
            if (part.Length == 0) throw new SipParseException("Empty URI parameter.");
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? part : part[..eq];
            string? value = eq < 0 ? null : part[(eq + 1)..];
            if (name.Length == 0) throw new SipParseException("Empty URI parameter name.");
            foreach (var c in name)
                if (!SipSyntax.IsParamChar(c) && c != '%') throw new SipParseException($"Invalid character '{c}' in URI parameter '{part}'.");
            if (value is not null)
            {
                foreach (var c in value)
                    if (!SipSyntax.IsParamChar(c) && c != '%') throw new SipParseException($"Invalid character '{c}' in URI parameter '{part}'.");
                SipSyntax.Unescape(value); // validates the escapes
            }
            result._items.Add(new SipParameter(name, value));
        }
        return result;
    }
}
