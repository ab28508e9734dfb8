using System.Buffers;

namespace Gateway.Xmpp.Framing;

/// <summary>XML 1.0 (fifth edition) character classes, as needed by <see cref="XmppStreamParser"/>.</summary>
internal static class XmlChars
{
    /// <summary>UTF-16 code units that can never appear in an XML 1.0 document (§2.2 <c>Char</c>).
    /// Surrogates are not listed: the strict UTF-8 decoder only ever produces well-formed pairs.</summary>
    public static readonly SearchValues<char> Illegal = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        "\uFFFE\uFFFF");

    /// <summary>XML white space (§2.3 <c>S</c>).</summary>
    public static readonly SearchValues<char> Whitespace = SearchValues.Create(" \t\r\n");

    public static bool IsWhitespace(char c) => c is ' ' or '\t' or '\r' or '\n';

    /// <summary>Whether a code point is a legal XML <c>Char</c> (the target of a character reference).</summary>
    public static bool IsLegalCodePoint(int cp) =>
        cp is 0x9 or 0xA or 0xD
        or (>= 0x20 and <= 0xD7FF)
        or (>= 0xE000 and <= 0xFFFD)
        or (>= 0x10000 and <= 0x10FFFF);

    /// <summary><c>NameStartChar</c>. A high surrogate counts when it can start a pair in #x10000-#xEFFFF
    /// (the caller checks the pair itself).</summary>
    public static bool IsNameStartChar(char c)
    {
        if (c < 0x80)
            return (uint)((c | 0x20) - 'a') <= 'z' - 'a' || c is '_' or ':';
        return c switch
        {
            >= '\u00C0' and <= '\u00D6' => true,
            >= '\u00D8' and <= '\u00F6' => true,
            >= '\u00F8' and <= '\u02FF' => true,
            >= '\u0370' and <= '\u037D' => true,
            >= '\u037F' and <= '\u1FFF' => true,
            >= '\u200C' and <= '\u200D' => true,
            >= '\u2070' and <= '\u218F' => true,
            >= '\u2C00' and <= '\u2FEF' => true,
            >= '\u3001' and <= '\uD7FF' => true,
            >= '\uD800' and <= '\uDB7F' => true,
            >= '\uF900' and <= '\uFDCF' => true,
            >= '\uFDF0' and <= '\uFFFD' => true,
            _ => false,
        };
    }

    /// <summary><c>NameChar</c> (same surrogate convention as <see cref="IsNameStartChar"/>).</summary>
    public static bool IsNameChar(char c)
    {
        if (c < 0x80)
            return (uint)((c | 0x20) - 'a') <= 'z' - 'a' || (uint)(c - '0') <= 9 || c is '_' or ':' or '-' or '.';
        return IsNameStartChar(c) || c == '\u00B7' || c is >= '\u0300' and <= '\u036F' or >= '\u203F' and <= '\u2040';
    }

    /// <summary>Length of the XML <c>Name</c> at the start of <paramref name="s"/>; 0 when there is none.</summary>
    public static int ScanName(ReadOnlySpan<char> s)
    {
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c))
            {
                // #x10000-#xEFFFF are name (start) characters: high surrogates D800-DB7F followed by any low surrogate.
                if (c <= '\uDB7F' && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i += 2; continue; }
                break;
            }
            if (i == 0 ? !IsNameStartChar(c) : !IsNameChar(c)) break;
            i++;
        }
        return i;
    }
}
