using System.Buffers;
using System.Security;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Gateway.Xmpp.Framing;

/// <summary>Turns stanzas into UTF-8 bytes. Values are escaped by <see cref="XmlWriter"/>, so metacharacters and
/// <c>]]&gt;</c> in text can never become markup; characters XML cannot carry are refused rather than sent.</summary>
public static class XmppStreamWriter
{
    private static readonly XmlWriterSettings Settings = new()
    {
        OmitXmlDeclaration = true,
        ConformanceLevel = ConformanceLevel.Fragment,
        Encoding = new UTF8Encoding(false),
        Indent = false,
        NewLineHandling = NewLineHandling.Entitize,
        CheckCharacters = true,
        NamespaceHandling = NamespaceHandling.OmitDuplicates,
    };

    /// <summary>Serialises one element. Elements without a namespace inherit the stream's default
    /// (<c>jabber:client</c> or <c>jabber:component:accept</c>), which is how stanzas are meant to be built.</summary>
    public static void Write(XElement element, IBufferWriter<byte> output)
    {
        using var stream = new BufferWriterStream(output);
        using var writer = XmlWriter.Create(stream, Settings);
        element.WriteTo(writer);
        writer.Flush();
    }

    public static byte[] Serialize(XElement element)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(element, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The opening tag of a stream, written by hand because it is never closed by the same write.</summary>
    public static byte[] StreamHeader(string defaultNamespace, string to, string? from = null, string? lang = "en", bool version = true)
    {
        var builder = new StringBuilder("<?xml version='1.0'?><stream:stream xmlns='")
            .Append(SecurityElement.Escape(defaultNamespace))
            .Append("' xmlns:stream='http://etherx.jabber.org/streams' to='")
            .Append(SecurityElement.Escape(to)).Append('\'');
        if (from is not null) builder.Append(" from='").Append(SecurityElement.Escape(from)).Append('\'');
        if (version) builder.Append(" version='1.0'");
        if (lang is not null) builder.Append(" xml:lang='").Append(SecurityElement.Escape(lang)).Append('\'');
        builder.Append('>');
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    public static readonly byte[] StreamFooter = "</stream:stream>"u8.ToArray();

    private sealed class BufferWriterStream(IBufferWriter<byte> output) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => output.Write(buffer);
    }
}
