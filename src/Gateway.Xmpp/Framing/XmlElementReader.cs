using System.Buffers;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Framing;

/// <summary>Reads stream events from a transport stream through an <see cref="XmppStreamParser"/>.
/// <see cref="Restart"/> begins a new XML stream (after STARTTLS or SASL) with a fresh parser.</summary>
public sealed class XmlElementReader : IDisposable
{
    private readonly StanzaLimits _limits;
    private readonly Queue<XmlStreamEvent> _ready = new();
    private readonly List<XmlStreamEvent> _batch = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private XmppStreamParser _parser;

    public XmlElementReader(Stream stream, StanzaLimits limits)
    {
        Stream = stream;
        _limits = limits;
        _parser = new XmppStreamParser(limits);
    }

    public Stream Stream { get; set; }

    /// <summary>Total bytes read from the network by this reader.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Begins a new XML stream with a fresh parser. A framed transport, whose server never sends a
    /// <c>&lt;stream:stream&gt;</c> header (RFC 7395), passes a stand-in header as <paramref name="prologue"/>: it is parsed
    /// first and its event dropped, so the elements that follow are read as first-level children of a stream.</summary>
    public void Restart(ReadOnlySpan<byte> prologue = default)
    {
        _ready.Clear();
        _parser = new XmppStreamParser(_limits);
        if (prologue.IsEmpty) return;
        _parser.Feed(prologue, _batch);
        _batch.Clear();
    }

    public async ValueTask<XmlStreamEvent> ReadAsync(CancellationToken cancellationToken)
    {
        while (_ready.Count == 0)
        {
            int read;
            try
            {
                read = await Stream.ReadAsync(_buffer, cancellationToken);
            }
            catch (IOException e)
            {
                throw new XmppConnectionLostException("The connection was lost: " + e.Message, e);
            }
            if (read == 0) throw new XmppConnectionLostException("The peer closed the connection.");
            BytesRead += read;
            _parser.Feed(_buffer.AsSpan(0, read), _batch);
            foreach (var item in _batch) _ready.Enqueue(item);
            _batch.Clear();
        }
        return _ready.Dequeue();
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
