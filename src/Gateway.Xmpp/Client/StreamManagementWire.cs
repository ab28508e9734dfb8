using System.Buffers;
using System.Buffers.Text;

namespace Gateway.Xmpp.Client;

/// <summary>The XEP-0198 elements the writer adds to a flush, written straight into its buffer: they go out on every busy
/// stream, so they allocate nothing.</summary>
internal static class StreamManagementWire
{
    public static ReadOnlySpan<byte> AckRequest => "<r xmlns='urn:xmpp:sm:3'/>"u8;

    private static ReadOnlySpan<byte> AckStart => "<a xmlns='urn:xmpp:sm:3' h='"u8;
    private static ReadOnlySpan<byte> AckEnd => "'/>"u8;

    public static void WriteAck(IBufferWriter<byte> buffer, uint h)
    {
        buffer.Write(AckStart);
        var span = buffer.GetSpan(10);
        Utf8Formatter.TryFormat(h, span, out var written);
        buffer.Advance(written);
        buffer.Write(AckEnd);
    }
}
