using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Tests.Fakes;

/// <summary>A scripted XMPP server on a loopback socket: tests read what the client wrote and answer by hand, so every
/// edge case (STARTTLS, failures, resume, silence) is deterministic and the XML on the wire is visible.</summary>
public sealed class FakeXmppServer : IAsyncDisposable
{
    public const string Domain = "example.com";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public FakeXmppServer()
    {
        _listener.Start();
        Certificate = CreateCertificate(Domain);
        CertificatePath = Path.Combine(Path.GetTempPath(), $"fake-xmpp-{Guid.NewGuid():N}.crt");
        File.WriteAllText(CertificatePath, Certificate.ExportCertificatePem());
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public X509Certificate2 Certificate { get; }
    /// <summary>The public certificate as a PEM file, for the client's trust option.</summary>
    public string CertificatePath { get; }

    public async Task<FakePeer> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(20));
        var socket = await _listener.AcceptSocketAsync(cts.Token);
        return new FakePeer(socket, Certificate);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        Certificate.Dispose();
        File.Delete(CertificatePath);
        await Task.CompletedTask;
    }

    private static X509Certificate2 CreateCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>The server side of one accepted connection.</summary>
public sealed class FakePeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly X509Certificate2 _certificate;
    private Stream _stream;
    private XmppStreamParser _parser = new();
    private readonly Queue<XmlStreamEvent> _events = new();
    private readonly List<XmlStreamEvent> _batch = new();
    private readonly byte[] _buffer = new byte[64 * 1024];

    internal FakePeer(Socket socket, X509Certificate2 certificate)
    {
        _socket = socket;
        _certificate = certificate;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Everything the client wrote, as text, in order (for assertions on the wire format).</summary>
    public StringBuilder Received { get; } = new();

    public async Task<XmlStreamEvent> ReadEventAsync(CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(20));
        while (_events.Count == 0)
        {
            var read = await _stream.ReadAsync(_buffer, cts.Token);
            if (read == 0) throw new EndOfStreamException("The client closed the connection.");
            Received.Append(Encoding.UTF8.GetString(_buffer, 0, read));
            _parser.Feed(_buffer.AsSpan(0, read), _batch);
            foreach (var e in _batch) _events.Enqueue(e);
            _batch.Clear();
        }
        return _events.Dequeue();
    }

    public async Task<XElement> ReadElementAsync(CancellationToken cancellationToken = default)
    {
        var next = await ReadEventAsync(cancellationToken);
        return next is XmlStreamEvent.Element element
            ? element.Value
            : throw new InvalidOperationException($"Expected an element, got {next}.");
    }

    /// <summary>Reads elements until one matches, skipping the rest (e.g. presence, acks).</summary>
    public async Task<XElement> ReadUntilAsync(Func<XElement, bool> match, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var element = await ReadElementAsync(cancellationToken);
            if (match(element)) return element;
        }
    }

    public async Task SendAsync(string xml)
    {
        var bytes = Encoding.UTF8.GetBytes(xml);
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Reads the client's stream header, answers with ours and the given features.</summary>
    public async Task<XElement> OpenStreamAsync(string features, string ns = "jabber:client", string id = "s1")
    {
        _parser = new XmppStreamParser();
        _events.Clear();
        var header = await ReadEventAsync();
        if (header is not XmlStreamEvent.StreamOpened opened) throw new InvalidOperationException($"Expected a stream header, got {header}.");
        await SendAsync($"<?xml version='1.0'?><stream:stream xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams' id='{id}' from='{FakeXmppServer.Domain}' version='1.0' xml:lang='en'>"
            + (features.Length == 0 ? "" : $"<stream:features>{features}</stream:features>"));
        return opened.Header;
    }

    public async Task UpgradeToTlsAsync()
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsServerAsync(_certificate);
        _stream = ssl;
    }

    /// <summary>Cuts the connection without a stream close (as a crashed server or a dropped link would).</summary>
    public void Abort()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Close(0);
    }

    public async ValueTask DisposeAsync()
    {
        Abort();
        await _stream.DisposeAsync();
    }
}
