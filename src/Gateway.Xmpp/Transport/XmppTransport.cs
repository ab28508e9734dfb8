using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Transport;

/// <summary>A TCP connection whose byte stream may be upgraded to TLS once (STARTTLS) as an explicit step.</summary>
public sealed class XmppTransport : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;

    private XmppTransport(Socket socket)
    {
        _socket = socket;
        _network = new QuickAckNetworkStream(socket);
        Stream = _network;
    }

    /// <summary>The stream of the current generation: the plain network stream, then the TLS stream after <see cref="UpgradeToTlsAsync"/>.</summary>
    public Stream Stream { get; private set; }

    public bool IsEncrypted => Stream is SslStream;

    public static async Task<XmppTransport> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cts.Token);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            return new XmppTransport(socket);
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
        Stream = ssl;
    }

    /// <summary>Tears the socket down at once, without a TLS close_notify or stream footer (used to kill a half-open link).</summary>
    public void Abort()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Close(0);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _socket.Dispose();
    }
}
