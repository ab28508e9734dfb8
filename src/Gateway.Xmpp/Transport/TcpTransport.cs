using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>RFC 6120 over TCP: one XML stream on the socket, which may be upgraded to TLS once (STARTTLS) as an
/// explicit step. A batch of elements goes out in one write.</summary>
public sealed class TcpTransport : IXmppTransport
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly XmlElementReader _reader;
    private readonly ArrayBufferWriter<byte> _batch = new(16 * 1024);
    private Stream _stream;

    private TcpTransport(Socket socket, StanzaLimits limits)
    {
        _socket = socket;
        _network = new QuickAckNetworkStream(socket);
        _stream = _network;
        _reader = new XmlElementReader(_network, limits);
    }

    public bool IsEncrypted => _stream is SslStream;

    public bool RecoversLostRequests => false;

    public bool CanStartTls => !IsEncrypted;

    public static async Task<TcpTransport> ConnectAsync(string host, int port, StanzaLimits limits, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cts.Token);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            return new TcpTransport(socket, limits);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new XmppConnectionLostException($"Connecting to {host}:{port} timed out after {timeout.TotalSeconds:0.#} s") { NeverSent = true };
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new XmppConnectionLostException($"Cannot connect to {host}:{port}: {e.Message}", e) { NeverSent = true };
        }
    }

    /// <summary>Wraps the network stream in TLS. Call only after the server's <c>&lt;proceed/&gt;</c>, when nothing more is buffered.</summary>
    public async Task UpgradeToTlsAsync(string serverName, TlsOptions options, CancellationToken cancellationToken)
    {
        if (IsEncrypted) throw new InvalidOperationException("The transport is already encrypted.");
        var ssl = new SslStream(_network, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = options.ServerName ?? serverName,
                RemoteCertificateValidationCallback = options.CreateValidator(),
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ApplicationProtocols = [new SslApplicationProtocol("xmpp-client")],
            }, cancellationToken);
        }
        catch (AuthenticationException e)
        {
            await ssl.DisposeAsync();
            throw new XmppAuthenticationException("tls-certificate-rejected", e.Message);
        }
        _stream = ssl;
        _reader.Stream = ssl;
    }

    public async Task OpenStreamAsync(StreamOpening opening, CancellationToken cancellationToken)
    {
        _reader.Restart();
        await _stream.WriteAsync(XmppStreamWriter.StreamHeader(opening.DefaultNamespace, opening.To, opening.From, opening.Lang, opening.Version), cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    public ValueTask<XmlStreamEvent> ReadAsync(CancellationToken cancellationToken) => _reader.ReadAsync(cancellationToken);

    /// <summary>One write per batch, so a burst costs the server one read.</summary>
    public async Task SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> elements, bool closeStream, CancellationToken cancellationToken)
    {
        _batch.ResetWrittenCount();
        foreach (var element in elements) _batch.Write(element.Span);
        if (closeStream) _batch.Write(XmppStreamWriter.StreamFooter);
        if (_batch.WrittenCount == 0) return;
        await _stream.WriteAsync(_batch.WrittenMemory, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>Tears the socket down at once, without a TLS close_notify or stream footer (used to kill a half-open link).</summary>
    public void Abort()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Close(0);
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
