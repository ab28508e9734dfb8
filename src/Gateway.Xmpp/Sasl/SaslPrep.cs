using System.Buffers;
using System.Text;

namespace Gateway.Xmpp.Sasl;

/// <summary>An approximation of SASLprep (RFC 4013) for usernames and passwords.</summary>
/// <remarks>
/// Applied: the mapping step (B.1 "commonly mapped to nothing" removed, C.1.2 non-ASCII spaces mapped to U+0020),
/// NFKC normalisation, and the prohibited-output check (RFC 4013 §2.3: C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9).
/// Not applied: the bidirectional-text rule (RFC 3454 §6), which needs the Unicode bidi class that .NET does not expose,
/// and the unassigned-code-point check against Unicode 3.2 (RFC 5802 treats the password as a "query" string,
/// where unassigned code points are allowed anyway). NFKC uses the platform's current Unicode version, not 3.2.
/// Plain printable ASCII — the usual case — is returned unchanged without touching the normaliser.
/// </remarks>
internal static class SaslPrep
{
    private static readonly SearchValues<char> PrintableAscii =
        SearchValues.Create(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>Prepares <paramref name="value"/>, or returns <see langword="null"/> when it contains a prohibited character.</summary>
    public static string? Prepare(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.AsSpan().ContainsAnyExcept(PrintableAscii)) return value;

        var mapped = new StringBuilder(value.Length);
        var rest = value.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var consumed) != OperationStatus.Done)
                return null; // C.5: an unpaired surrogate
            rest = rest[consumed..];
            if (IsMappedToNothing(rune.Value)) continue;
            if (IsNonAsciiSpace(rune.Value)) mapped.Append(' ');
            else mapped.Append(rune.ToString());
        }

        var normalized = mapped.ToString().Normalize(NormalizationForm.FormKC);
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (IsProhibited(rune.Value)) return null;
        }
        return normalized;
    }

    // RFC 3454 table B.1.
    private static bool IsMappedToNothing(int c) =>
        c is 0x00AD or 0x034F or 0x1806 or (>= 0x180B and <= 0x180D) or (>= 0x200B and <= 0x200D) or 0x2060
            or (>= 0xFE00 and <= 0xFE0F) or 0xFEFF;

    // RFC 3454 table C.1.2.
    private static bool IsNonAsciiSpace(int c) =>
        c is 0x00A0 or 0x1680 or (>= 0x2000 and <= 0x200B) or 0x202F or 0x205F or 0x3000;

    private static bool IsProhibited(int c) =>
        IsNonAsciiSpace(c)
        // C.2.1 ASCII control characters
        || c is <= 0x001F or 0x007F
        // C.2.2 non-ASCII control characters
        || c is (>= 0x0080 and <= 0x009F) or 0x06DD or 0x070F or 0x180E or 0x200C or 0x200D or 0x2028 or 0x2029
            or (>= 0x2060 and <= 0x2063) or (>= 0x206A and <= 0x206F) or 0xFEFF or (>= 0xFFF9 and <= 0xFFFC)
            or (>= 0x1D173 and <= 0x1D17A)
        // C.3 private use
        || c is (>= 0xE000 and <= 0xF8FF) or (>= 0xF0000 and <= 0xFFFFD) or (>= 0x100000 and <= 0x10FFFD)
        // C.4 non-character code points
        || c is (>= 0xFDD0 and <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE
        // C.5 surrogates cannot appear in a decoded rune; C.6 inappropriate for plain text
        || c is >= 0xFFF9 and <= 0xFFFD
        // C.7 inappropriate for canonical representation
        || c is >= 0x2FF0 and <= 0x2FFB
        // C.8 change display properties or deprecated
        || c is 0x0340 or 0x0341 or 0x200E or 0x200F or (>= 0x202A and <= 0x202E)
        // C.9 tagging characters
        || c is 0xE0001 or (>= 0xE0020 and <= 0xE007F);
}
