using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>Character classes and small scanners of the RFC 3261 §25 grammar.</summary>
internal static class SipSyntax
{
    /// <summary>token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~").</summary>
    public static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~';

    public static bool IsToken(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return false;
        foreach (var c in s)
            if (!IsTokenChar(c)) return false;
        return true;
    }

    public static bool IsWhitespace(char c) => c is ' ' or '\t' or '\r' or '\n';

    /// <summary>unreserved = alphanum / mark.</summary>
    public static bool IsUnreserved(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '!' or '~' or '*' or '\'' or '(' or ')';

    /// <summary>Characters a SIP URI's user part may carry unescaped (unreserved / user-unreserved).</summary>
    public static bool IsUserChar(char c) => IsUnreserved(c) || c is '&' or '=' or '+' or '$' or ',' or ';' or '?' or '/';

    /// <summary>Characters a password may carry unescaped.</summary>
    public static bool IsPasswordChar(char c) => IsUnreserved(c) || c is '&' or '=' or '+' or '$' or ',';

    /// <summary>Characters a URI parameter name or value may carry unescaped (paramchar).</summary>
    public static bool IsParamChar(char c) => IsUnreserved(c) || c is '[' or ']' or '/' or ':' or '&' or '+' or '$';

    /// <summary>Characters a URI header name or value may carry unescaped (hnv-unreserved / unreserved).</summary>
    public static bool IsHeaderChar(char c) => IsUnreserved(c) || c is '[' or ']' or '/' or '?' or ':' or '+' or '$';

    /// <summary>Decodes %XX escapes (as UTF-8). Throws <see cref="SipParseException"/> on a broken escape.</summary>
    public static string Unescape(string s)
    {
        if (!s.Contains('%', StringComparison.Ordinal)) return s;
        var bytes = new List<byte>(s.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '%')
            {
                if (i + 2 >= s.Length || !char.IsAsciiHexDigit(s[i + 1]) || !char.IsAsciiHexDigit(s[i + 2]))
                    throw new SipParseException($"Invalid escape sequence in '{s}'.");
                bytes.Add((byte)Convert.ToInt32(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                int n = Encoding.UTF8.GetBytes([c], utf8);
                for (int k = 0; k < n; k++) bytes.Add(utf8[k]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Escapes every character that <paramref name="allowed"/> rejects as %XX of its UTF-8 bytes.</summary>
    public static string Escape(string s, Func<char, bool> allowed)
    {
        bool clean = true;
        foreach (var c in s)
            if (!allowed(c)) { clean = false; break; }
        if (clean) return s;
        var sb = new StringBuilder(s.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            char c = (char)b;
            if (b < 0x80 && allowed(c)) sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Reads a quoted-string starting at <paramref name="i"/> (on the opening quote); returns the unquoted text.</summary>
    public static string ReadQuoted(string s, ref int i)
    {
        if (s[i] != '"') throw new SipParseException("Expected a quoted string.");
        var sb = new StringBuilder();
        i++;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\\')
            {
                if (i + 1 >= s.Length) break;
                sb.Append(s[i + 1]);
                i += 2;
                continue;
            }
            if (c == '"')
            {
                i++;
                return sb.ToString();
            }
            sb.Append(c);
            i++;
        }
        throw new SipParseException("Unterminated quoted string.");
    }

    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    public static void SkipWhitespace(string s, ref int i)
    {
        while (i < s.Length && IsWhitespace(s[i])) i++;
    }

    /// <summary>
    /// Splits a header value at the commas that separate list elements, ignoring commas inside quoted strings and
    /// &lt;…&gt;. Elements are trimmed; empty elements are dropped.
    /// </summary>
    private static readonly char[] ListWhitespace = [' ', '\t', '\r', '\n'];

    public static List<string> SplitList(string value)
    {
        var parts = new List<string>();
        int start = 0;
        bool quoted = false, angle = false;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == '<') angle = true;
            else if (c == '>') angle = false;
            else if (c == ',' && !angle)
            {
                Add(value[start..i]);
                start = i + 1;
            }
        }
        if (quoted) throw new SipParseException("Unterminated quoted string in a header value.");
        Add(value[start..]);
        return parts;

        void Add(string part)
        {
            part = part.Trim(ListWhitespace);
            if (part.Length > 0) parts.Add(part);
        }
    }
}
