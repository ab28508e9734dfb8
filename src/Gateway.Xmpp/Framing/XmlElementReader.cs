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

    public void Restart()
    {
        _ready.Clear();
        _parser = new XmppStreamParser(_limits);
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

    /// <summary>Reads the next first-level element, failing on a stream close or stream error.</summary>
    public async ValueTask<System.Xml.Linq.XElement> ReadElementAsync(CancellationToken cancellationToken)
    {
        var next = await ReadAsync(cancellationToken);
        switch (next)
        {
            case XmlStreamEvent.Element { Value: var element } when element.Name == Ns.Stream + "error":
                throw XmppStreamErrorException.Parse(element);
            case XmlStreamEvent.Element { Value: var element }:
                return element;
            case XmlStreamEvent.StreamClosed:
                throw new XmppConnectionLostException("The peer closed the stream.");
            case XmlStreamEvent.StanzaSkipped skipped:
                // During negotiation every element matters: one we could not read fails the attempt.
                throw new XmppProtocolException($"The peer sent <{skipped.Stub?.Name.LocalName ?? "?"}> {skipped.Reason}.");
            default:
                throw new XmppProtocolException("A second stream header arrived on an open stream.");
        }
    }

    public async ValueTask<System.Xml.Linq.XElement> ReadStreamHeaderAsync(CancellationToken cancellationToken)
    {
        var next = await ReadAsync(cancellationToken);
        return next switch
        {
            XmlStreamEvent.StreamOpened opened => opened.Header,
            XmlStreamEvent.Element { Value: var e } when e.Name == Ns.Stream + "error" => throw XmppStreamErrorException.Parse(e),
            _ => throw new XmppProtocolException("Expected a stream header."),
        };
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
