using System.Text;

namespace ActiveCalls.Sip.Tests.Messages;

/// <summary>Builds wire text from readable literals: line ends become CRLF and a Content-Length placeholder is filled.</summary>
internal static class Wire
{
    /// <summary>Turns LF line ends into CRLF; <c>{CL}</c> becomes the byte length of the text after the empty line.</summary>
    public static byte[] Bytes(string text)
    {
        // A raw string literal drops the last line end, so a message without a body needs its empty line back.
        var lf = text.ReplaceLineEndings("\n");
        if (!lf.Contains("\n\n", StringComparison.Ordinal)) lf += lf.EndsWith('\n') ? "\n" : "\n\n";
        var crlf = lf.Replace("\n", "\r\n", StringComparison.Ordinal);
        int sep = crlf.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (sep >= 0 && crlf.Contains("{CL}", StringComparison.Ordinal))
        {
            var body = crlf[(sep + 4)..];
            crlf = crlf.Replace("{CL}", Encoding.UTF8.GetByteCount(body).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }
        return Encoding.UTF8.GetBytes(crlf);
    }
}
