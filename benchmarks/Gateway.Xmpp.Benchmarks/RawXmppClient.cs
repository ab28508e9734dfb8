using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Gateway.Xmpp.Client;

namespace Gateway.Xmpp.Benchmarks;

/// <summary>
/// The baseline: the simplest honest XMPP client. One TCP socket, STARTTLS with <see cref="SslStream"/> (trusting the dev
/// CA), SASL PLAIN over TLS, resource binding, then pings written as fixed byte templates and replies found by scanning the
/// received bytes for <c>id='…'</c>. It sends and receives the same stanzas over the same TLS as the library, but has no
/// XML parser, no object model, no per-request task, no timers and no XEP-0198.
/// </summary>
/// <remarks>With <c>streamManagement</c> it also speaks XEP-0198 the way the library does, in the fewest bytes: it enables
/// it after binding, answers the <c>&lt;r/&gt;</c>s of a read with one <c>&lt;a h='…'/&gt;</c> in its next write, and ends a
/// write with <c>&lt;r/&gt;</c> once <see cref="StreamManagementState.AckRequestWindow"/> stanzas went out since its last
/// request, if that one was answered (the library's policy). That isolates what the protocol costs the server from what
/// the library's code costs.
/// Each reply is checked: it must be an <c>&lt;iq type='result'/&gt;</c> whose id is a ping that is outstanding and
/// not yet answered. Anything else in the stream (which Prosody does not send to a client that sent no presence) fails the
/// run rather than being skipped. Prosody writes attributes with single quotes; a server that did not would fail loudly.</remarks>
public sealed class RawXmppClient(string name, string host, int port, string domain, string user, string password,
    string resource, string caPath, bool streamManagement) : IBenchTarget
{
    private const int IdDigits = 24; // as long as the library's ids (12 random bytes in hex), so the stanzas are the same size
    private readonly byte[] _prefix = Encoding.UTF8.GetBytes("<iq type='get' id='");
    private readonly byte[] _suffix = Encoding.UTF8.GetBytes($"' to='{domain}'><ping xmlns='urn:xmpp:ping'/></iq>");
    private byte[] _in = new byte[64 * 1024];
    private int _inLength;
    private byte[] _out = [];
    private Socket? _socket;
    private SslStream? _ssl;
    private long _nextId;
    private uint _inbound;            // XEP-0198: stanzas received since <enable/>
    private bool _ackOwed;            // XEP-0198: an <r/> came in and waits for its <a/>
    private int _sinceLastRequest;    // XEP-0198: stanzas sent since our last <r/>
    private bool _requestOutstanding; // XEP-0198: our last <r/> is not answered yet
    private long _ackRequestsReceived, _acksSent, _ackRequestsSent, _acksReceived;

    public string Name => name;
    public string Description => streamManagement
        ? $"raw socket client (SslStream, string scan) with XEP-0198 as the library uses it: one <a/> per read that brought <r/>, <r/> every {StreamManagementState.AckRequestWindow} stanzas, one at a time"
        : "raw socket client (SslStream, string scan, no XEP-0198)";

    public StreamManagementStatistics? Acks => streamManagement
        ? new StreamManagementStatistics(_ackRequestsReceived, _acksSent, _ackRequestsSent, _acksReceived, 0, 0)
        : null;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await _socket.ConnectAsync(host, port, cancellationToken);
        var network = new NetworkStream(_socket, ownsSocket: true);

        await WriteAsync(network, StreamHeader(), cancellationToken);
        var features = await ReadUntilAsync(network, "</stream:features>", cancellationToken);
        if (!features.Contains("<starttls", StringComparison.Ordinal)) throw new InvalidOperationException("No STARTTLS offered: " + features);
        await WriteAsync(network, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", cancellationToken);
        var proceed = await ReadUntilAsync(network, "/>", cancellationToken);
        if (!proceed.Contains("<proceed", StringComparison.Ordinal)) throw new InvalidOperationException("STARTTLS refused: " + proceed);

        _ssl = new SslStream(network, leaveInnerStreamOpen: false);
        await _ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = domain,
            RemoteCertificateValidationCallback = TrustDevCa(caPath),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, cancellationToken);

        await WriteAsync(_ssl, StreamHeader(), cancellationToken);
        features = await ReadUntilAsync(_ssl, "</stream:features>", cancellationToken);
        if (!features.Contains("<mechanism>PLAIN</mechanism>", StringComparison.Ordinal))
            throw new InvalidOperationException("PLAIN is not offered over TLS: " + features);
        var initial = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
        await WriteAsync(_ssl, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{initial}</auth>", cancellationToken);
        var outcome = await ReadUntilAnyAsync(_ssl, ["<success", "</failure>"], cancellationToken);
        if (!outcome.Contains("<success", StringComparison.Ordinal)) throw new InvalidOperationException("Authentication failed: " + outcome);

        await WriteAsync(_ssl, StreamHeader(), cancellationToken);
        features = await ReadUntilAsync(_ssl, "</stream:features>", cancellationToken);
        if (!features.Contains("urn:ietf:params:xml:ns:xmpp-bind", StringComparison.Ordinal)) throw new InvalidOperationException("No bind offered: " + features);
        await WriteAsync(_ssl, $"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>", cancellationToken);
        var bound = await ReadUntilAsync(_ssl, "</iq>", cancellationToken);
        if (!bound.Contains("type='result'", StringComparison.Ordinal)) throw new InvalidOperationException("Bind failed: " + bound);
        if (streamManagement)
        {
            if (!features.Contains("urn:xmpp:sm:3", StringComparison.Ordinal)) throw new InvalidOperationException("No XEP-0198 offered: " + features);
            await WriteAsync(_ssl, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", cancellationToken);
            var enabled = await ReadUntilAsync(_ssl, "/>", cancellationToken);
            if (!enabled.Contains("<enabled", StringComparison.Ordinal)) throw new InvalidOperationException("XEP-0198 refused: " + enabled);
        }
        _inLength = 0;
    }

    public async Task RunAsync(int count, int concurrency, LatencyRecorder latencies, CancellationToken cancellationToken)
    {
        var ssl = _ssl ?? throw new InvalidOperationException("Not connected.");
        var stanzaLength = _prefix.Length + IdDigits + _suffix.Length;
        if (_out.Length < concurrency * stanzaLength + 128) _out = new byte[concurrency * stanzaLength + 128];
        // Ids continue across runs, so a straggler from an earlier run could never be mistaken for a reply of this one.
        var firstId = _nextId;
        _nextId += count;
        var sentAt = new long[count];
        var sent = 0;
        var received = 0;

        sent = await SendAsync(ssl, firstId, sent, Math.Min(concurrency, count), sentAt, cancellationToken);
        while (received < count)
        {
            var read = await ssl.ReadAsync(_in.AsMemory(_inLength), cancellationToken);
            if (read == 0) throw new IOException("The server closed the connection.");
            var now = Stopwatch.GetTimestamp();
            _inLength += read;
            var answered = ScanReplies(firstId, sent, sentAt, now, latencies, ref received);
            // Replace each answered ping with a new one, in one write: K stay outstanding.
            var more = Math.Min(answered, count - sent);
            if (more > 0 || _ackOwed) sent = await SendAsync(ssl, firstId, sent, more, sentAt, cancellationToken);
            if (_inLength == _in.Length) Array.Resize(ref _in, _in.Length * 2);
        }
    }

    private async Task<int> SendAsync(SslStream ssl, long firstId, int sent, int howMany, long[] sentAt, CancellationToken cancellationToken)
    {
        var length = 0;
        if (_ackOwed)
        {
            length += Encoding.UTF8.GetBytes($"<a xmlns='urn:xmpp:sm:3' h='{_inbound}'/>", _out);
            _ackOwed = false;
            _acksSent++;
        }
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < howMany; i++)
        {
            _prefix.CopyTo(_out, length);
            length += _prefix.Length;
            WriteHexId(_out.AsSpan(length, IdDigits), firstId + sent + i);
            length += IdDigits;
            _suffix.CopyTo(_out, length);
            length += _suffix.Length;
            sentAt[sent + i] = now;
        }
        if (streamManagement && (_sinceLastRequest += howMany) >= StreamManagementState.AckRequestWindow && !_requestOutstanding)
        {
            length += Encoding.UTF8.GetBytes("<r xmlns='urn:xmpp:sm:3'/>", _out.AsSpan(length));
            _sinceLastRequest = 0;
            _requestOutstanding = true;
            _ackRequestsSent++;
        }
        await ssl.WriteAsync(_out.AsMemory(0, length), cancellationToken);
        await ssl.FlushAsync(cancellationToken);
        return sent + howMany;
    }

    /// <summary>Consumes every complete stanza in the input buffer; returns how many pings they answered.</summary>
    private int ScanReplies(long firstId, int sent, long[] sentAt, long now, LatencyRecorder latencies, ref int received)
    {
        var data = _in.AsSpan(0, _inLength);
        var position = 0;
        var answered = 0;
        while (true)
        {
            var rest = data[position..];
            var lt = rest.IndexOf((byte)'<');
            if (lt < 0)
            {
                EnsureWhitespace(rest);
                position = data.Length;
                break;
            }
            EnsureWhitespace(rest[..lt]);
            var stanza = rest[lt..];
            var gt = stanza.IndexOf((byte)'>');
            if (gt < 0) { position += lt; break; }               // incomplete start tag: wait for more bytes
            var tag = stanza[..(gt + 1)];
            if (streamManagement && tag[^2] == (byte)'/' && tag.IndexOf("'urn:xmpp:sm:3'"u8) > 0)
            {
                if (tag.StartsWith("<r "u8))
                {
                    _ackOwed = true;
                    _ackRequestsReceived++;
                }
                else if (tag.StartsWith("<a "u8))
                {
                    _requestOutstanding = false;
                    _acksReceived++;
                }
                else throw Unexpected(tag);
                position += lt + gt + 1;
                continue;
            }
            if (!tag.StartsWith("<iq "u8)) throw Unexpected(stanza);
            int end;
            if (tag[^2] == (byte)'/') end = gt + 1;
            else
            {
                var close = stanza.IndexOf("</iq>"u8);
                if (close < 0) { position += lt; break; }          // incomplete stanza
                end = close + 5;
            }
            if (!Attribute(tag, " type='"u8).SequenceEqual("result"u8)) throw Unexpected(stanza[..end]);
            var id = Attribute(tag, " id='"u8);
            var index = ParseHexId(id) - firstId;
            if (id.Length != IdDigits || index < 0 || index >= sent || sentAt[index] == 0) throw Unexpected(stanza[..end]);
            latencies.Record(received++, now - sentAt[index]);
            _inbound++;
            sentAt[index] = 0;                                      // a duplicate reply would now fail the run
            answered++;
            position += lt + end;
        }
        data[position..].CopyTo(_in);
        _inLength -= position;
        return answered;
    }

    private static ReadOnlySpan<byte> Attribute(ReadOnlySpan<byte> tag, ReadOnlySpan<byte> start)
    {
        var at = tag.IndexOf(start);
        if (at < 0) return [];
        var value = tag[(at + start.Length)..];
        var quote = value.IndexOf((byte)'\'');
        return quote < 0 ? [] : value[..quote];
    }

    private static void WriteHexId(Span<byte> target, long value)
    {
        for (var i = target.Length - 1; i >= 0; i--, value >>= 4) target[i] = (byte)"0123456789abcdef"[(int)(value & 0xf)];
    }

    private static long ParseHexId(ReadOnlySpan<byte> id)
    {
        long value = 0;
        foreach (var b in id)
        {
            var digit = b is >= (byte)'0' and <= (byte)'9' ? b - '0' : b is >= (byte)'a' and <= (byte)'f' ? b - 'a' + 10 : -1;
            if (digit < 0) return -1;
            value = value << 4 | (uint)digit;
        }
        return value;
    }

    private static void EnsureWhitespace(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) throw Unexpected(bytes);
    }

    private static InvalidDataException Unexpected(ReadOnlySpan<byte> bytes) =>
        new("Unexpected data from the server: " + Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, 300)]));

    private string StreamHeader() =>
        $"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>";

    private static async Task WriteAsync(Stream stream, string text, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    private Task<string> ReadUntilAsync(Stream stream, string marker, CancellationToken cancellationToken) =>
        ReadUntilAnyAsync(stream, [marker], cancellationToken);

    /// <summary>Negotiation only: reads until one of the markers has arrived. The server sends nothing more until we answer.</summary>
    private async Task<string> ReadUntilAnyAsync(Stream stream, string[] markers, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        while (!markers.Any(m => text.ToString().Contains(m, StringComparison.Ordinal)))
        {
            var read = await stream.ReadAsync(_in, cancellationToken);
            if (read == 0) throw new IOException("The server closed the connection during negotiation: " + text);
            text.Append(Encoding.UTF8.GetString(_in, 0, read));
        }
        return text.ToString();
    }

    private static RemoteCertificateValidationCallback TrustDevCa(string caPath)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        return (_, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null) return false;
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.Add(ca);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return custom.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_ssl is not null)
        {
            try { await WriteAsync(_ssl, "</stream:stream>", CancellationToken.None); } catch (IOException) { }
            await _ssl.DisposeAsync();
        }
        _socket?.Dispose();
    }
}
