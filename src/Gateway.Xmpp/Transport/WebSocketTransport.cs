using System.Net.WebSockets;
using System.Security;
using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>
/// RFC 7395, XMPP over WebSocket (subprotocol <c>xmpp</c>): every message carries one complete top-level element, the
/// stream is opened with <c>&lt;open/&gt;</c> and closed with <c>&lt;close/&gt;</c> in
/// <c>urn:ietf:params:xml:ns:xmpp-framing</c>, and there is no STARTTLS: a <c>wss</c> endpoint is TLS from the start.
/// Inbound messages go through the same stream parser and stanza limits as TCP, read as children of a stand-in stream.
/// </summary>
public sealed class WebSocketTransport : IXmppTransport
{
    private static readonly XNamespace Framing = "urn:ietf:params:xml:ns:xmpp-framing";
    private static readonly byte[] StandInHeader = Encoding.UTF8.GetBytes(
        $"<stream:stream xmlns='{Ns.Client.NamespaceName}' xmlns:stream='{Ns.Stream.NamespaceName}'>");
    private static readonly byte[] Close = Encoding.UTF8.GetBytes($"<close xmlns='{Framing.NamespaceName}'/>");

    private readonly ClientWebSocket _socket;
    private readonly HttpMessageInvoker _invoker;
    private readonly XmlElementReader _reader;

    private WebSocketTransport(ClientWebSocket socket, HttpMessageInvoker invoker, bool encrypted, StanzaLimits limits)
    {
        _socket = socket;
        _invoker = invoker;
        IsEncrypted = encrypted;
        _reader = new XmlElementReader(new MessageReadStream(socket), limits);
    }

    public bool IsEncrypted { get; }

    public bool RecoversLostRequests => false;

    public bool CanStartTls => false;

    /// <summary>Connects to a <c>ws://</c> or <c>wss://</c> endpoint. The TCP connection goes to the endpoint's host and
    /// port; the TLS certificate must name <see cref="TlsOptions.ServerName"/> or else <paramref name="serverName"/> (the
    /// XMPP domain), which is also the HTTP host asked for (so a server may pick its virtual host by it).</summary>
    public static async Task<WebSocketTransport> ConnectAsync(Uri endpoint, string serverName, TlsOptions tls, StanzaLimits limits,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var secure = HttpEndpoint.IsSecure(endpoint);
        var handler = HttpEndpoint.CreateHandler(endpoint, tls, timeout);
        var invoker = new HttpMessageInvoker(handler);
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("xmpp");
        // Liveness is the connection's ping watchdog, as on TCP.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var request = HttpEndpoint.RequestUri(endpoint, serverName, tls);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(request, invoker, cts.Token);
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            invoker.Dispose();
            if (HttpEndpoint.IsCertificateRejection(e))
                throw new XmppAuthenticationException("tls-certificate-rejected", e.Message);
            throw new XmppConnectionLostException(e is OperationCanceledException
                ? $"Connecting to {endpoint} timed out after {timeout.TotalSeconds:0.#} s"
                : $"Cannot connect to {endpoint}: {e.Message}", e) { NeverSent = true };
        }
        if (socket.SubProtocol != "xmpp")
        {
            socket.Abort();
            socket.Dispose();
            invoker.Dispose();
            throw new XmppProtocolException($"{endpoint} did not accept the WebSocket subprotocol 'xmpp' (RFC 7395 §3.2).");
        }
        return new WebSocketTransport(socket, invoker, secure, limits);
    }

    public Task UpgradeToTlsAsync(string serverName, TlsOptions options, CancellationToken cancellationToken) =>
        throw new NotSupportedException("XMPP over WebSocket has no STARTTLS: use a wss:// endpoint.");

    public async Task OpenStreamAsync(StreamOpening opening, CancellationToken cancellationToken)
    {
        _reader.Restart(StandInHeader);
        var open = new StringBuilder("<open xmlns='").Append(Framing.NamespaceName).Append("' to='").Append(SecurityElement.Escape(opening.To)).Append('\'');
        if (opening.From is not null) open.Append(" from='").Append(SecurityElement.Escape(opening.From)).Append('\'');
        if (opening.Version) open.Append(" version='1.0'");
        if (opening.Lang is not null) open.Append(" xml:lang='").Append(SecurityElement.Escape(opening.Lang)).Append('\'');
        open.Append("/>");
        await SendMessageAsync(Encoding.UTF8.GetBytes(open.ToString()), cancellationToken);
    }

    public async ValueTask<XmlStreamEvent> ReadAsync(CancellationToken cancellationToken)
    {
        var next = await _reader.ReadAsync(cancellationToken);
        return next switch
        {
            XmlStreamEvent.Element { Value: var e } when e.Name == Framing + "open" => new XmlStreamEvent.StreamOpened(e),
            XmlStreamEvent.Element { Value: var e } when e.Name == Framing + "close" => new XmlStreamEvent.StreamClosed(),
            _ => next,
        };
    }

    /// <summary>One message per element, each a document of its own (RFC 7395 §3.3.3).</summary>
    public async Task SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> elements, bool closeStream, CancellationToken cancellationToken)
    {
        foreach (var element in elements) await SendMessageAsync(StandaloneElement.WithClientNamespace(element), cancellationToken);
        if (closeStream) await SendMessageAsync(Close, cancellationToken);
    }

    private async Task SendMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        try
        {
            await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        catch (WebSocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public void Abort() => _socket.Abort();

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _socket.Dispose();
        _invoker.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The received messages as one byte stream for the parser; the server's close of the WebSocket ends it.</summary>
    private sealed class MessageReadStream(ClientWebSocket socket) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, cancellationToken);
                    if (received.MessageType == WebSocketMessageType.Close) return 0;
                    if (received.Count > 0) return received.Count;
                }
            }
            catch (WebSocketException e)
            {
                throw new IOException(e.Message, e);
            }
        }
    }
}
