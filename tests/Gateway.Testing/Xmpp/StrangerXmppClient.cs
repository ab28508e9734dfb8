using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Gateway.Testing.Prosody;

namespace Gateway.Testing.Xmpp;

/// <summary>
/// Another account on the same XMPP server, as an attacker would drive it: a bare socket (STARTTLS, SASL PLAIN, bind)
/// that writes whatever bytes it is given, well-formed or not, and can tell whether the server threw it out for them.
/// </summary>
public sealed class StrangerXmppClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _ssl;
    private readonly byte[] _buffer = new byte[64 * 1024];

    private StrangerXmppClient(Socket socket, SslStream ssl, string jid)
    {
        _socket = socket;
        _ssl = ssl;
        Jid = jid;
    }

    /// <summary>The full JID the server bound.</summary>
    public string Jid { get; }

    public static async Task<StrangerXmppClient> ConnectAsync(ProsodyFixture prosody, string user, string password, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(prosody.Host, prosody.C2sPort, cancellationToken);
        var network = new NetworkStream(socket, ownsSocket: false);
        var header = $"<?xml version='1.0'?><stream:stream to='{prosody.Domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
        await WriteAsync(network, header, cancellationToken);
        await ReadUntilAsync(network, "</stream:features>", cancellationToken);
        await WriteAsync(network, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", cancellationToken);
        await ReadUntilAsync(network, "<proceed", cancellationToken);

        var ca = X509CertificateLoader.LoadCertificateFromFile(prosody.CaCertificatePath);
        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = prosody.Domain,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is X509Certificate2 c && chain.Build(c);
            },
        }, cancellationToken);
        await WriteAsync(ssl, header, cancellationToken);
        await ReadUntilAsync(ssl, "</stream:features>", cancellationToken);
        var initial = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
        await WriteAsync(ssl, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{initial}</auth>", cancellationToken);
        var outcome = await ReadUntilAsync(ssl, "success", cancellationToken);
        if (!outcome.Contains("<success", StringComparison.Ordinal)) throw new InvalidOperationException("Authentication failed: " + outcome);
        await WriteAsync(ssl, header, cancellationToken);
        await ReadUntilAsync(ssl, "</stream:features>", cancellationToken);
        await WriteAsync(ssl, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>mallory</resource></bind></iq>", cancellationToken);
        var bound = await ReadUntilAsync(ssl, "</iq>", cancellationToken);
        var start = bound.IndexOf("<jid>", StringComparison.Ordinal) + 5;
        return new StrangerXmppClient(socket, ssl, bound[start..bound.IndexOf("</jid>", StringComparison.Ordinal)]);
    }

    public Task SendAsync(string xml, CancellationToken cancellationToken) => SendAsync(Encoding.UTF8.GetBytes(xml), cancellationToken);

    /// <summary>Writes the bytes; a server that already closed the stream makes this a no-op.</summary>
    public async Task SendAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await _ssl.WriteAsync(bytes, cancellationToken);
            await _ssl.FlushAsync(cancellationToken);
        }
        catch (IOException) { }
    }

    /// <summary>Everything the server sends within <paramref name="window"/>, and whether it closed the stream.</summary>
    public async Task<(string Received, bool Closed)> DrainAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        var received = new StringBuilder();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(window);
        try
        {
            while (true)
            {
                var read = await _ssl.ReadAsync(_buffer, timeout.Token);
                if (read == 0) return (received.ToString(), true);
                received.Append(Encoding.UTF8.GetString(_buffer, 0, read));
                if (received.ToString().Contains("</stream:stream>", StringComparison.Ordinal)) return (received.ToString(), true);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (received.ToString(), false);
        }
        catch (IOException)
        {
            return (received.ToString(), true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _ssl.DisposeAsync();
        _socket.Dispose();
    }

    private static async Task WriteAsync(Stream stream, string text, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    private static async Task<string> ReadUntilAsync(Stream stream, string marker, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new byte[16 * 1024];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (!text.ToString().Contains(marker, StringComparison.Ordinal) && !text.ToString().Contains("failure", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0) throw new IOException("The server closed the stream: " + text);
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        return text.ToString();
    }
}
