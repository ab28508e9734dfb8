using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>
/// <c>[display-name] &lt;URI&gt; *(;param)</c> or <c>addr-spec *(;param)</c>: the value of From, To, Contact, Route,
/// Record-Route (RFC 3261 §20.10, §25.1). Header parameters (<c>tag</c>, <c>expires</c>, …) are in
/// <see cref="Parameters"/>, never in the URI's.
/// </summary>
public sealed class NameAddress
{
    public NameAddress(SipUri uri, string? displayName = null)
    {
        Uri = uri;
        DisplayName = displayName;
    }

    /// <summary>The display name, unquoted; null when absent.</summary>
    public string? DisplayName { get; set; }

    public SipUri Uri { get; set; }

    public SipParameters Parameters { get; private set; } = new();

    public string? Tag
    {
        get => Parameters["tag"];
        set
        {
            if (value is null) Parameters.Remove("tag");
            else Parameters.Set("tag", value);
        }
    }

    public NameAddress Clone() => new(Uri.Clone(), DisplayName) { Parameters = Parameters.Clone() };

    public static NameAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = 0;
        SipSyntax.SkipWhitespace(text, ref i);
        if (i >= text.Length) throw new SipParseException("Empty name-addr.");
        string? display = null;
        SipUri uri;
        int lt = IndexOfUnquoted(text, '<', i);
        if (text[i] == '"')
        {
            display = SipSyntax.ReadQuoted(text, ref i);
            SipSyntax.SkipWhitespace(text, ref i);
            if (i >= text.Length || text[i] != '<') throw new SipParseException($"Expected '<' after the display name in '{text}'.");
        }
        else if (lt >= 0)
        {
            var words = text[i..lt].Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
            foreach (var w in words)
                if (!SipSyntax.IsToken(w)) throw new SipParseException($"Invalid display name in '{text}'.");
            if (words.Length > 0) display = string.Join(' ', words);
            i = lt;
        }

        if (i < text.Length && text[i] == '<')
        {
            int gt = text.IndexOf('>', i);
            if (gt < 0) throw new SipParseException($"Missing '>' in '{text}'.");
            uri = SipUri.Parse(text[(i + 1)..gt].Trim());
            i = gt + 1;
        }
        else
        {
            int end = i;
            while (end < text.Length && text[end] != ';' && !SipSyntax.IsWhitespace(text[end])) end++;
            uri = SipUri.Parse(text[i..end]);
            if (uri.Headers.Count > 0) throw new SipParseException($"A URI with headers must be in angle brackets: '{text}'.");
            i = end;
        }

        var result = new NameAddress(uri, display) { Parameters = SipParameters.ParseHeaderParameters(text, ref i) };
        return result;
    }

    private static int IndexOfUnquoted(string s, char c, int from)
    {
        bool quoted = false;
        for (int i = from; i < s.Length; i++)
        {
            if (quoted)
            {
                if (s[i] == '\\') i++;
                else if (s[i] == '"') quoted = false;
            }
            else if (s[i] == '"') quoted = true;
            else if (s[i] == c) return i;
        }
        return -1;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(DisplayName)) sb.Append(SipSyntax.Quote(DisplayName)).Append(' ');
        sb.Append('<').Append(Uri).Append('>');
        Parameters.AppendTo(sb);
        return sb.ToString();
    }
}
