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

    /// <summary>Serialises one element to a new array. Every stanza sent goes through here, so the <see cref="XmlWriter"/>
    /// (about 8 KB of buffers) is reused per thread rather than created per stanza; the bytes are the same as
    /// <see cref="Write"/>'s.</summary>
    public static byte[] Serialize(XElement element)
    {
        // Taken out while in use, and put back only after a success: a writer that threw (a character XML cannot carry)
        // is left in its error state, so it is dropped with its partial output.
        var cached = t_cached ?? new CachedWriter();
        t_cached = null;
        cached.Buffer.ResetWrittenCount();
        element.WriteTo(cached.Writer);
        cached.Writer.Flush();
        var bytes = cached.Buffer.WrittenSpan.ToArray();
        if (cached.Buffer.Capacity <= MaxCachedBufferBytes) t_cached = cached;
        return bytes;
    }

    /// <summary>A rare large stanza must not pin its buffer to a thread for good.</summary>
    private const int MaxCachedBufferBytes = 64 * 1024;

    [ThreadStatic] private static CachedWriter? t_cached;

    private sealed class CachedWriter
    {
        public CachedWriter() => Writer = XmlWriter.Create(new BufferWriterStream(Buffer), Settings);

        public ArrayBufferWriter<byte> Buffer { get; } = new(1024);
        public XmlWriter Writer { get; }
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
