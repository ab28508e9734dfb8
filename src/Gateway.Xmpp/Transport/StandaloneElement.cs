using System.Text;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>Elements sent outside a TCP stream (a WebSocket message, a BOSH body) carry their own namespace.</summary>
internal static class StandaloneElement
{
    private static readonly byte[] DefaultNamespace = Encoding.UTF8.GetBytes($" xmlns='{Ns.Client.NamespaceName}'");

    /// <summary>A stanza serialised for a TCP stream leaves its namespace to the stream's default (<c>jabber:client</c>);
    /// standing alone in a message, it must declare it. The start tag of an element written by
    /// <see cref="XmppStreamWriter"/> is read attribute by attribute (values quoted, <c>&gt;</c> escaped in them), and
    /// <c>xmlns='jabber:client'</c> is added after its name unless it declares a default namespace of its own.</summary>
    public static ReadOnlyMemory<byte> WithClientNamespace(ReadOnlyMemory<byte> element)
    {
        var span = element.Span;
        if (span.Length < 2 || span[0] != (byte)'<') return element;
        var nameEnd = 1;
        while (nameEnd < span.Length && span[nameEnd] is not ((byte)' ' or (byte)'>' or (byte)'/')) nameEnd++;
        var i = nameEnd;
        while (i < span.Length)
        {
            while (i < span.Length && span[i] == (byte)' ') i++;
            if (i >= span.Length || span[i] is (byte)'>' or (byte)'/') break;
            var attributeStart = i;
            while (i < span.Length && span[i] != (byte)'=') i++;
            if (span[attributeStart..i].SequenceEqual("xmlns"u8)) return element;
            if (i + 1 >= span.Length) break;
            var quote = span[i + 1];
            i = span[(i + 2)..].IndexOf(quote) is var end and >= 0 ? i + 2 + end + 1 : span.Length;
        }
        var framed = new byte[span.Length + DefaultNamespace.Length];
        span[..nameEnd].CopyTo(framed);
        DefaultNamespace.CopyTo(framed.AsSpan(nameEnd));
        span[nameEnd..].CopyTo(framed.AsSpan(nameEnd + DefaultNamespace.Length));
        return framed;
    }
}
