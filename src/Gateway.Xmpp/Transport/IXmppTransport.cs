using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>One connection to the server, whatever carries it (TCP, WebSocket). The negotiation and the connection's
/// reader and writer loops speak XMPP through this alone: they open (and restart) the stream, read stream events, and
/// send batches of complete top-level elements; how those are framed on the wire is the transport's business.</summary>
public interface IXmppTransport : IAsyncDisposable
{
    /// <summary>Whether the bytes are protected by TLS (STARTTLS done on TCP; <c>wss</c> on WebSocket).</summary>
    bool IsEncrypted { get; }

    /// <summary>Whether STARTTLS can upgrade this transport (only a plain TCP stream).</summary>
    bool CanStartTls { get; }

    /// <summary>Whether the transport keeps its session across a lost connection by itself (BOSH re-sends a lost request
    /// with the same <c>rid</c>); XEP-0198 is then not negotiated over it.</summary>
    bool RecoversLostRequests { get; }

    /// <summary>Wraps the connection in TLS. Call only after the server's <c>&lt;proceed/&gt;</c>.</summary>
    Task UpgradeToTlsAsync(string serverName, TlsOptions options, CancellationToken cancellationToken);

    /// <summary>Opens the XML stream, or restarts it (after STARTTLS or SASL): the reader begins a new stream and the
    /// opening is sent (a <c>&lt;stream:stream&gt;</c> header on TCP, an <c>&lt;open/&gt;</c> on WebSocket).</summary>
    Task OpenStreamAsync(StreamOpening opening, CancellationToken cancellationToken);

    /// <summary>The next stream event. The server's opening is reported as <see cref="XmlStreamEvent.StreamOpened"/> and
    /// its closing as <see cref="XmlStreamEvent.StreamClosed"/> whatever the framing.</summary>
    ValueTask<XmlStreamEvent> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Sends complete top-level elements, in order, as one batch; with <paramref name="closeStream"/> the stream's
    /// closing follows them and nothing more may be sent.</summary>
    Task SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> elements, bool closeStream, CancellationToken cancellationToken);

    /// <summary>Tears the connection down at once, without closing the stream (used to kill a half-open link).</summary>
    void Abort();
}

/// <summary>What the opening of a stream says: the default namespace and the <c>to</c>, <c>from</c>, <c>version</c> and
/// <c>xml:lang</c> attributes.</summary>
public sealed record StreamOpening(string DefaultNamespace, string To, string? From = null, string? Lang = "en", bool Version = true);
