using System.Globalization;
using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>
/// Parses one SIP message from a datagram (RFC 3261 §7, §18.3): start line, headers with folding (LWS continuation
/// lines), compact names and comma lists, then the body. The body is exactly Content-Length bytes (extra bytes in the
/// datagram are ignored, fewer are an error); without Content-Length it is the rest of the datagram.
/// The headers every message needs (Via, From, To, Call-ID, CSeq) are validated here, so the layers above can
/// read them without fear. Malformed input throws <see cref="SipParseException"/>.
/// </summary>
public static class SipMessageParser
{
    private static readonly Encoding Utf8 = new UTF8Encoding(false, false);

    /// <summary>Parses <paramref name="datagram"/>; null when it is only whitespace (a CRLF keep-alive).</summary>
    public static SipMessage? Parse(ReadOnlySpan<byte> datagram)
    {
        int start = 0;
        while (start < datagram.Length && datagram[start] is (byte)'\r' or (byte)'\n' or (byte)' ' or (byte)'\t') start++;
        if (start == datagram.Length) return null;
        var data = datagram[start..];

        int crlf = data.IndexOf("\r\n\r\n"u8), lf = data.IndexOf("\n\n"u8);
        int headerEnd, bodyStart;
        if (crlf >= 0 && (lf < 0 || crlf < lf)) { headerEnd = crlf; bodyStart = crlf + 4; }
        else if (lf >= 0) { headerEnd = lf; bodyStart = lf + 2; }
        else throw new SipParseException("The header section does not end with an empty line.");

        string head = Utf8.GetString(data[..headerEnd]);
        var lines = head.Split('\n');
        string startLine = lines[0].TrimEnd('\r');

        bool isRequest = !startLine.StartsWith("SIP/", StringComparison.OrdinalIgnoreCase);
        string? method = null;
        SipMessage message;
        SipHeaders headers;
        int suggested = 400;
        string? startLineError = null;
        try
        {
            message = isRequest ? ParseRequestLine(startLine, out method) : ParseStatusLine(startLine);
        }
        catch (SipParseException e) when (isRequest)
        {
            // Keep reading the headers: a request with a bad Request-URI or version still gets a response.
            message = new SipRequest(method ?? "UNKNOWN", new SipUri("sip", null, "invalid"));
            startLineError = e.Message;
            if (e.SuggestedStatus != 400) suggested = e.SuggestedStatus;
        }
        headers = message.Headers;

        try
        {
            ReadHeaders(lines, headers);
        }
        catch (SipParseException e)
        {
            throw new SipParseException(e.Message, e) { IsRequest = isRequest, Method = method };
        }

        try
        {
            if (startLineError is not null) throw new SipParseException(startLineError) { SuggestedStatus = suggested };
            Validate(message);
        }
        catch (SipParseException e)
        {
            throw new SipParseException(e.Message, e)
            {
                IsRequest = isRequest,
                Method = method,
                SuggestedStatus = e.SuggestedStatus,
                RequestHeaders = isRequest && CanAnswer(headers) ? headers : null,
            };
        }

        var rest = data[bodyStart..];
        var lengths = headers.GetFields("Content-Length");
        if (lengths.Count > 0)
        {
            if (lengths.Distinct().Count() > 1 || !int.TryParse(lengths[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                throw Fail($"Invalid Content-Length '{string.Join(",", lengths)}'.");
            if (length > rest.Length)
                throw Fail($"Content-Length {length} is larger than the {rest.Length} bytes of body received.");
            message.Body = rest[..length].ToArray();
        }
        else
        {
            message.Body = rest.ToArray();
        }
        return message;

        SipParseException Fail(string text) => new(text)
        {
            IsRequest = isRequest,
            Method = method,
            RequestHeaders = isRequest && CanAnswer(headers) ? headers : null,
        };
    }

    public static SipMessage? Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    private static SipRequest ParseRequestLine(string line, out string? method)
    {
        method = null;
        var parts = line.Split(' ');
        if (parts.Length > 0 && SipSyntax.IsToken(parts[0])) method = parts[0];
        if (parts.Length != 3 || method is null)
            throw new SipParseException($"Invalid request line '{line}'.");
        if (!parts[2].Equals("SIP/2.0", StringComparison.OrdinalIgnoreCase))
        {
            bool looksLikeVersion = parts[2].StartsWith("SIP/", StringComparison.OrdinalIgnoreCase);
            throw new SipParseException($"Unsupported SIP version '{parts[2]}'.") { SuggestedStatus = looksLikeVersion ? 505 : 400 };
        }
        return new SipRequest(method, SipUri.Parse(parts[1]));
    }

    private static SipResponse ParseStatusLine(string line)
    {
        // SIP-Version SP Status-Code SP Reason-Phrase (the reason may be empty or contain spaces)
        int sp1 = line.IndexOf(' ', StringComparison.Ordinal);
        if (sp1 < 0) throw new SipParseException($"Invalid status line '{line}'.");
        if (!line[..sp1].Equals("SIP/2.0", StringComparison.OrdinalIgnoreCase)) throw new SipParseException($"Unsupported SIP version in '{line}'.");
        int sp2 = line.IndexOf(' ', sp1 + 1);
        string code = sp2 < 0 ? line[(sp1 + 1)..] : line[(sp1 + 1)..sp2];
        if (code.Length != 3 || !int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status < 100 || status > 699)
            throw new SipParseException($"Invalid status code in '{line}'.");
        return new SipResponse(status, sp2 < 0 ? "" : line[(sp2 + 1)..]);
    }

    private static void ReadHeaders(string[] lines, SipHeaders headers)
    {
        string? name = null;
        StringBuilder value = new();
        for (int n = 1; n < lines.Length; n++)
        {
            string line = lines[n].TrimEnd('\r');
            if (line.Length > 0 && line[0] is ' ' or '\t')
            {
                // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header (folding).
                if (name is null) throw new SipParseException("A continuation line precedes the first header.");
                value.Append(' ').Append(line.Trim(' ', '\t'));
                continue;
            }
            Flush();
            if (line.Length == 0) throw new SipParseException("Empty header line.");
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new SipParseException($"Header line without a name and colon: '{line}'.");
            string rawName = line[..colon].TrimEnd(' ', '\t');
            if (!SipSyntax.IsToken(rawName)) throw new SipParseException($"Invalid header name '{rawName}'.");
            name = rawName;
            value.Clear().Append(line[(colon + 1)..].Trim(' ', '\t'));
        }
        Flush();

        void Flush()
        {
            if (name is null) return;
            headers.Add(name, value.ToString().Trim(' ', '\t'));
            name = null;
        }
    }

    private static bool CanAnswer(SipHeaders h)
    {
        if (h.GetFields("From").Count != 1 || h.GetFields("To").Count != 1 || h.GetFields("Call-ID").Count != 1 || h.GetFields("CSeq").Count != 1)
            return false;
        try
        {
            var vias = h.GetValues("Via");
            if (vias.Count == 0) return false;
            ViaHeader.Parse(vias[0]);
            NameAddress.Parse(h["To"]!);
            return true;
        }
        catch (SipParseException)
        {
            return false;
        }
    }

    private static void Validate(SipMessage m)
    {
        var h = m.Headers;
        foreach (var single in new[] { "Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Type" })
        {
            var fields = h.GetFields(single);
            if (fields.Count > 1) throw new SipParseException($"More than one {single} header.");
            if (fields.Count == 0 && single is "Call-ID" or "CSeq" or "From" or "To") throw new SipParseException($"Missing {single} header.");
        }
        var vias = h.GetValues("Via");
        if (vias.Count == 0) throw new SipParseException("Missing Via header.");
        foreach (var v in vias) ViaHeader.Parse(v);
        if (h["Call-ID"]!.Length == 0 || h["Call-ID"]!.Any(c => c is ' ' or '\t')) throw new SipParseException("Invalid Call-ID.");
        _ = NameAddress.Parse(h["From"]!);
        _ = NameAddress.Parse(h["To"]!);
        var cseq = CSeqHeader.Parse(h["CSeq"]!);
        if (m is SipRequest request && !string.Equals(cseq.Method, request.Method, StringComparison.Ordinal))
            throw new SipParseException($"CSeq method '{cseq.Method}' does not match the request method '{request.Method}'.");
        if (h["Max-Forwards"] is { } mf && (!int.TryParse(mf, NumberStyles.None, CultureInfo.InvariantCulture, out var hops) || hops > 255))
            throw new SipParseException($"Invalid Max-Forwards '{mf}'.");
        foreach (var list in new[] { "Contact", "Route", "Record-Route" })
            foreach (var v in h.GetValues(list))
                if (!(list == "Contact" && v == "*")) NameAddress.Parse(v);
    }
}
