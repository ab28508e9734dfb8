using System.Globalization;

namespace ActiveCalls.Sip.Messages;

/// <summary><c>CSeq: 1*DIGIT LWS Method</c> (RFC 3261 §20.16); the number is below 2^31.</summary>
public sealed record CSeqHeader(long Number, string Method)
{
    public static CSeqHeader Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2) throw new SipParseException($"Invalid CSeq '{text}'.");
        if (parts[0].Length > 10 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n >= 1L << 31)
            throw new SipParseException($"Invalid CSeq number in '{text}'.");
        if (!SipSyntax.IsToken(parts[1])) throw new SipParseException($"Invalid CSeq method in '{text}'.");
        return new CSeqHeader(n, parts[1]);
    }

    public override string ToString() => $"{Number.ToString(CultureInfo.InvariantCulture)} {Method}";
}
