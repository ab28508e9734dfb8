using System.Globalization;
using System.Text;

namespace ActiveCalls.Sip.Messages;

/// <summary>A SIP request or response: start line, headers, body (RFC 3261 §7).</summary>
public abstract class SipMessage
{
    public SipHeaders Headers { get; } = new();

    /// <summary>The message body, exactly Content-Length bytes; empty when there is none.</summary>
    public byte[] Body { get; set; } = [];

    /// <summary>The body decoded as UTF-8 (SDP is ASCII/UTF-8).</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string CallId
    {
        get => Headers["Call-ID"] ?? throw new InvalidOperationException("The message has no Call-ID.");
        set => Headers.Set("Call-ID", value);
    }

    public CSeqHeader CSeq
    {
        get => CSeqHeader.Parse(Headers["CSeq"] ?? throw new InvalidOperationException("The message has no CSeq."));
        set => Headers.Set("CSeq", value.ToString());
    }

    public NameAddress From
    {
        get => NameAddress.Parse(Headers["From"] ?? throw new InvalidOperationException("The message has no From."));
        set => Headers.Set("From", value.ToString());
    }

    public NameAddress To
    {
        get => NameAddress.Parse(Headers["To"] ?? throw new InvalidOperationException("The message has no To."));
        set => Headers.Set("To", value.ToString());
    }

    /// <summary>Every Via value, top first.</summary>
    public IReadOnlyList<ViaHeader> Vias => Headers.GetValues("Via").Select(ViaHeader.Parse).ToList();

    public ViaHeader TopVia => ViaHeader.Parse(Headers.GetValues("Via") is { Count: > 0 } v ? v[0] : throw new InvalidOperationException("The message has no Via."));

    public IReadOnlyList<NameAddress> Contacts => Headers.GetValues("Contact").Where(v => v != "*").Select(NameAddress.Parse).ToList();

    public IReadOnlyList<NameAddress> RecordRoutes => Headers.GetValues("Record-Route").Select(NameAddress.Parse).ToList();

    public IReadOnlyList<NameAddress> Routes => Headers.GetValues("Route").Select(NameAddress.Parse).ToList();

    public int? MaxForwards => int.TryParse(Headers["Max-Forwards"], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    public string? ContentType => Headers["Content-Type"];

    /// <summary>Replaces the body; the Content-Type is set (or removed for an empty body). Content-Length is always
    /// written from the body when the message is serialised.</summary>
    public void SetBody(byte[]? body, string? contentType)
    {
        Body = body ?? [];
        if (Body.Length == 0 || contentType is null) Headers.Remove("Content-Type");
        else Headers.Set("Content-Type", contentType);
    }

    /// <summary>Replaces the top Via value (the first element of the first Via field).</summary>
    public void SetTopVia(ViaHeader via)
    {
        var fields = Headers.GetFields("Via");
        if (fields.Count == 0)
        {
            Headers.Add("Via", via.ToString());
            return;
        }
        var values = Headers.GetValues("Via").ToList();
        values[0] = via.ToString();
        Headers.SetAll("Via", values);
    }

    protected abstract string StartLine { get; }

    /// <summary>Serialises the message: start line, headers in order (long names), a Content-Length equal to the body
    /// length, an empty line and the body.</summary>
    public byte[] ToBytes()
    {
        // Measured, then encoded straight into the one array returned: no StringBuilder, string or head array on the way
        // (they were about a tenth of the engine's allocations).
        var startLine = StartLine;
        Span<char> digits = stackalloc char[11];
        Body.Length.TryFormat(digits, out var digitCount, provider: CultureInfo.InvariantCulture);
        var length = Utf8.GetByteCount(startLine) + CrLf.Length + ContentLength.Length + digitCount + 2 * CrLf.Length + Body.Length;
        foreach (var h in Headers)
            if (!IsContentLength(h)) length += Utf8.GetByteCount(h.Name) + Colon.Length + Utf8.GetByteCount(h.Value) + CrLf.Length;
        var bytes = new byte[length];
        var at = Put(startLine, bytes, 0);
        at = Put(CrLf, bytes, at);
        foreach (var h in Headers)
        {
            if (IsContentLength(h)) continue;
            at = Put(h.Name, bytes, at);
            at = Put(Colon, bytes, at);
            at = Put(h.Value, bytes, at);
            at = Put(CrLf, bytes, at);
        }
        at = Put(ContentLength, bytes, at);
        at = Put(digits[..digitCount], bytes, at);
        at = Put(CrLf, bytes, at);
        at = Put(CrLf, bytes, at);
        Body.CopyTo(bytes, at);
        return bytes;
    }

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;
    private static ReadOnlySpan<byte> Colon => ": "u8;
    private static ReadOnlySpan<byte> ContentLength => "Content-Length: "u8;

    private static bool IsContentLength(SipHeaderField h) => h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);

    private static int Put(ReadOnlySpan<char> text, byte[] to, int at) => at + Utf8.GetBytes(text, to.AsSpan(at));

    private static int Put(ReadOnlySpan<byte> ascii, byte[] to, int at)
    {
        ascii.CopyTo(to.AsSpan(at));
        return at + ascii.Length;
    }

    public override string ToString() => Encoding.UTF8.GetString(ToBytes());
}

/// <summary>A SIP request.</summary>
public sealed class SipRequest : SipMessage
{
    public SipRequest(string method, SipUri requestUri)
    {
        Method = method;
        RequestUri = requestUri;
    }

    public string Method { get; set; }

    public SipUri RequestUri { get; set; }

    protected override string StartLine => $"{Method} {RequestUri} SIP/2.0";

    /// <summary>
    /// A response to this request (RFC 3261 §8.2.6.2): the Via fields, From, To, Call-ID and CSeq copied. A
    /// <paramref name="toTag"/> is added to To when it has none (never to a 100 Trying).
    /// </summary>
    public SipResponse CreateResponse(int statusCode, string? reasonPhrase = null, string? toTag = null)
    {
        var response = new SipResponse(statusCode, reasonPhrase ?? SipStatus.DefaultReason(statusCode));
        foreach (var via in Headers.GetFields("Via")) response.Headers.Add("Via", via);
        response.Headers.Add("From", Headers["From"] ?? "");
        var to = Headers["To"] ?? "";
        if (toTag is not null && statusCode != 100)
        {
            var parsed = NameAddress.Parse(to);
            if (parsed.Tag is null)
            {
                parsed.Tag = toTag;
                to = parsed.ToString();
            }
        }
        response.Headers.Add("To", to);
        response.Headers.Add("Call-ID", Headers["Call-ID"] ?? "");
        response.Headers.Add("CSeq", Headers["CSeq"] ?? "");
        return response;
    }

    public SipRequest Clone()
    {
        var copy = new SipRequest(Method, RequestUri.Clone()) { Body = Body };
        foreach (var h in Headers) copy.Headers.Add(h.Name, h.Value);
        return copy;
    }
}

/// <summary>A SIP response.</summary>
public sealed class SipResponse(int statusCode, string reasonPhrase) : SipMessage
{
    public int StatusCode { get; set; } = statusCode;

    public string ReasonPhrase { get; set; } = reasonPhrase;

    public bool IsProvisional => StatusCode < 200;

    public bool IsSuccess => StatusCode is >= 200 and < 300;

    /// <summary>True for a response this stack made up itself (a transaction timeout's 408, a transport error's 503).</summary>
    public bool IsLocal { get; internal set; }

    protected override string StartLine => $"SIP/2.0 {StatusCode.ToString(CultureInfo.InvariantCulture)} {ReasonPhrase}";
}
