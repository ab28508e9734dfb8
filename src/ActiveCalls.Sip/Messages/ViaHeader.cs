using System.Globalization;
using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>One Via value: <c>SIP/2.0/UDP host[:port];branch=…;received=…;rport[=…]</c> (RFC 3261 §20.42, RFC 3581).</summary>
public sealed class ViaHeader
{
    /// <summary>The RFC 3261 branch prefix.</summary>
    public const string MagicCookie = "z9hG4bK";

    public ViaHeader(string transport, string host, int? port, string? branch)
    {
        Transport = transport.ToUpperInvariant();
        Host = host;
        Port = port;
        if (branch is not null) Parameters.Set("branch", branch);
    }

    public string ProtocolName { get; set; } = "SIP";

    public string ProtocolVersion { get; set; } = "2.0";

    /// <summary>UDP, TCP, TLS, SCTP… (upper case).</summary>
    public string Transport { get; set; }

    public string Host { get; set; }

    public int? Port { get; set; }

    public SipParameters Parameters { get; private set; } = new();

    public string? Branch => Parameters["branch"];

    public string? Received
    {
        get => Parameters["received"];
        set => Parameters.Set("received", value);
    }

    /// <summary>True when <c>rport</c> is present, with or without a value.</summary>
    public bool HasRport => Parameters.Contains("rport");

    /// <summary>The value of <c>rport</c> when it has one.</summary>
    public int? Rport => int.TryParse(Parameters["rport"], NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : null;

    public string? Maddr => Parameters["maddr"];

    /// <summary>The sent-by, <c>host[:port]</c>, lower-cased host (for transaction matching).</summary>
    public string SentBy => Port is int p ? $"{Host.ToLowerInvariant()}:{p.ToString(CultureInfo.InvariantCulture)}" : Host.ToLowerInvariant();

    /// <summary>True when the branch starts with the RFC 3261 magic cookie.</summary>
    public bool HasRfc3261Branch => Branch?.StartsWith(MagicCookie, StringComparison.Ordinal) == true;

    public static ViaHeader Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = 0;
        string name = ReadToken(text, ref i, "protocol name");
        Expect(text, ref i, '/');
        string version = ReadToken(text, ref i, "protocol version");
        Expect(text, ref i, '/');
        string transport = ReadToken(text, ref i, "transport");
        SipSyntax.SkipWhitespace(text, ref i);
        if (!name.Equals("SIP", StringComparison.OrdinalIgnoreCase) || version != "2.0")
            throw new SipParseException($"Unsupported protocol '{name}/{version}' in Via '{text}'.");

        // sent-by = host [ COLON port ]
        string host;
        int start = i;
        if (i < text.Length && text[i] == '[')
        {
            int close = text.IndexOf(']', i);
            if (close < 0) throw new SipParseException($"Unterminated IPv6 reference in Via '{text}'.");
            i = close + 1;
        }
        else
        {
            while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '-' or '.')) i++;
        }
        host = text[start..i];
        if (host.Length == 0) throw new SipParseException($"Missing sent-by host in Via '{text}'.");
        SipSyntax.SkipWhitespace(text, ref i);
        int? port = null;
        if (i < text.Length && text[i] == ':')
        {
            i++;
            SipSyntax.SkipWhitespace(text, ref i);
            int ps = i;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            if (i == ps || i - ps > 5 || !int.TryParse(text.AsSpan(ps, i - ps), NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
                throw new SipParseException($"Invalid sent-by port in Via '{text}'.");
            port = p;
        }
        var via = new ViaHeader(transport, host, port, null)
        {
            ProtocolName = name.ToUpperInvariant(),
            ProtocolVersion = version,
            Parameters = SipParameters.ParseHeaderParameters(text, ref i),
        };
        var rport = via.Parameters["rport"];
        if (rport is not null && (!int.TryParse(rport, NumberStyles.None, CultureInfo.InvariantCulture, out var rp) || rp is < 1 or > 65535))
            throw new SipParseException($"Invalid rport in Via '{text}'.");
        return via;
    }

    private static string ReadToken(string s, ref int i, string what)
    {
        SipSyntax.SkipWhitespace(s, ref i);
        int start = i;
        while (i < s.Length && SipSyntax.IsTokenChar(s[i])) i++;
        if (i == start) throw new SipParseException($"Missing {what} in Via '{s}'.");
        return s[start..i];
    }

    private static void Expect(string s, ref int i, char c)
    {
        SipSyntax.SkipWhitespace(s, ref i);
        if (i >= s.Length || s[i] != c) throw new SipParseException($"Expected '{c}' in Via '{s}'.");
        i++;
    }

    public ViaHeader Clone() => new(Transport, Host, Port, null)
    {
        ProtocolName = ProtocolName,
        ProtocolVersion = ProtocolVersion,
        Parameters = Parameters.Clone(),
    };

    public override string ToString()
    {
        var sb = new StringBuilder().Append(ProtocolName).Append('/').Append(ProtocolVersion).Append('/').Append(Transport).Append(' ').Append(Host);
        if (Port is int p) sb.Append(':').Append(p.ToString(CultureInfo.InvariantCulture));
        Parameters.AppendTo(sb);
        return sb.ToString();
    }
}
