using System.Net;
using System.Net.Http.Headers;
using System.Security;
using System.Text;
using System.Threading.Channels;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>
/// BOSH (XEP-0124) carrying XMPP (XEP-0206): elements travel inside <c>&lt;body/&gt;</c> wrappers POSTed to the endpoint,
/// each request numbered (<c>rid</c>) within the session (<c>sid</c>). The server holds one request open (long polling)
/// and answers it when it has something to send or after <c>wait</c> seconds; this transport keeps one request open at
/// all times and at most as many as the server allows (<c>requests</c>), answers are read in <c>rid</c> order, and a
/// request the network lost is sent again with the same <c>rid</c> (the server answers a repeat from its cache), which is
/// BOSH's own recovery. A stream restart after SASL is <c>xmpp:restart='true'</c> (XEP-0206 §5). Inbound stanzas go
/// through the same stream parser and limits as on TCP. There is no STARTTLS: an <c>https</c> endpoint is TLS throughout.
/// </summary>
public sealed class BoshTransport : IXmppTransport
{
    private const string HttpBind = "http://jabber.org/protocol/httpbind";
    private const string XBosh = "urn:xmpp:xbosh";
    private const int WaitSeconds = 60;
    private const int Retries = 3;
    private static readonly byte[] StandInHeader = Encoding.UTF8.GetBytes(
        $"<stream:stream xmlns='{Ns.Client.NamespaceName}' xmlns:stream='{Ns.Stream.NamespaceName}'>");

    private readonly HttpClient _http;
    private readonly Uri _url;
    private readonly StanzaLimits _limits;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Channel<XmlStreamEvent> _inbound = Channel.CreateUnbounded<XmlStreamEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly object _gate = new();
    private readonly SortedDictionary<long, XElement?> _answered = [];
    private SemaphoreSlim _slots = new(1);
    private string? _sid;
    private long _rid = Random.Shared.NextInt64(1L << 20, 1L << 40);
    private long _nextToDeliver;
    private int _outstanding;
    private bool _closed;

    private BoshTransport(HttpClient http, Uri url, bool secure, StanzaLimits limits)
    {
        _http = http;
        _url = url;
        _limits = limits;
        IsEncrypted = secure;
        _nextToDeliver = _rid + 1;
    }

    public bool IsEncrypted { get; }

    public bool RecoversLostRequests => true;

    public bool CanStartTls => false;

    /// <summary>Prepares a session with an <c>http://</c> or <c>https://</c> endpoint; nothing is sent until the stream
    /// is opened. As with WebSocket, sockets go to the endpoint's host and port and TLS names the server.</summary>
    public static BoshTransport Create(Uri endpoint, string serverName, TlsOptions tls, StanzaLimits limits, TimeSpan connectTimeout)
    {
        var http = new HttpClient(HttpEndpoint.CreateHandler(endpoint, tls, connectTimeout))
        {
            // A held request comes back after 'wait' seconds at the latest.
            Timeout = TimeSpan.FromSeconds(WaitSeconds + 30),
        };
        return new BoshTransport(http, HttpEndpoint.RequestUri(endpoint, serverName, tls), HttpEndpoint.IsSecure(endpoint), limits);
    }

    public Task UpgradeToTlsAsync(string serverName, TlsOptions options, CancellationToken cancellationToken) =>
        throw new NotSupportedException("BOSH has no STARTTLS: use an https:// endpoint.");

    /// <summary>The first opening creates the session (its answer carries the sid and the stream features); later ones
    /// restart the stream within it.</summary>
    public async Task OpenStreamAsync(StreamOpening opening, CancellationToken cancellationToken)
    {
        if (_sid is not null)
        {
            _inbound.Writer.TryWrite(new XmlStreamEvent.StreamOpened(StreamHeader(opening.To, _sid)));
            await SendBodyAsync($" to='{SecurityElement.Escape(opening.To)}' xml:lang='en' xmpp:restart='true'", [], cancellationToken);
            return;
        }
        var attributes = new StringBuilder()
            .Append(" content='text/xml; charset=utf-8' hold='1' ver='1.6' wait='").Append(WaitSeconds).Append('\'')
            .Append(" to='").Append(SecurityElement.Escape(opening.To)).Append('\'')
            .Append(" xml:lang='").Append(SecurityElement.Escape(opening.Lang ?? "en")).Append("' xmpp:version='1.0'");
        if (opening.From is not null) attributes.Append(" from='").Append(SecurityElement.Escape(opening.From)).Append('\'');
        var rid = ++_rid;
        var answer = await PostAsync(rid, Body(rid, attributes.ToString(), []), cancellationToken);
        if ((string?)answer.Attribute("type") == "terminate" || (string?)answer.Attribute("sid") is not { } sid)
            throw new XmppConnectionLostException($"The BOSH session was refused: {(string?)answer.Attribute("condition") ?? "no sid"}.") { NeverSent = true };
        _sid = sid;
        _slots = new SemaphoreSlim(Math.Clamp((int?)answer.Attribute("requests") ?? 2, 1, 2));
        _inbound.Writer.TryWrite(new XmlStreamEvent.StreamOpened(StreamHeader((string?)answer.Attribute("from") ?? opening.To, sid,
            (string?)answer.Attribute(XNamespace.Get(XBosh) + "version"))));
        Deliver(rid, answer);
    }

    public async ValueTask<XmlStreamEvent> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _inbound.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException e)
        {
            throw e.InnerException ?? new XmppConnectionLostException("The BOSH session ended.");
        }
    }

    /// <summary>One body per batch; with <paramref name="closeStream"/> it is the session's <c>type='terminate'</c>.
    /// Returns once the body is written; its answer is read in the background.</summary>
    public Task SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> elements, bool closeStream, CancellationToken cancellationToken) =>
        SendBodyAsync(closeStream ? " type='terminate'" : "", elements, cancellationToken);

    public void Abort()
    {
        lock (_gate) _closed = true;
        try { _lifetime.Cancel(); } catch (ObjectDisposedException) { }
        _inbound.Writer.TryComplete(new XmppConnectionLostException("The BOSH session was aborted."));
    }

    public ValueTask DisposeAsync()
    {
        Abort();
        _http.Dispose();
        _lifetime.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task SendBodyAsync(string attributes, IReadOnlyList<ReadOnlyMemory<byte>> elements, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        long rid;
        byte[] body;
        lock (_gate)
        {
            // Numbered only once a slot is free, so no two requests can overtake each other by more than the server allows.
            rid = ++_rid;
            body = Body(rid, $" sid='{_sid}'{attributes}", elements);
            _outstanding++;
        }
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() => ExchangeAsync(rid, body, written), CancellationToken.None);
        await written.Task.WaitAsync(cancellationToken);
    }

    /// <summary>One request and its answer, in the background; the slot is freed and, when none is left open, an empty
    /// request keeps one held at the server for what it has to send.</summary>
    private async Task ExchangeAsync(long rid, byte[] body, TaskCompletionSource written)
    {
        try
        {
            Deliver(rid, await PostAsync(rid, body, _lifetime.Token, written));
        }
        catch (Exception e)
        {
            written.TrySetException(e);
            Fail(e is OperationCanceledException ? new XmppConnectionLostException("The BOSH session was aborted.") : e);
        }
        finally
        {
            bool poll;
            lock (_gate) poll = --_outstanding == 0 && !_closed;
            _slots.Release();
            if (poll) _ = PollAsync();
        }
    }

    private async Task PollAsync()
    {
        try { await SendBodyAsync("", [], _lifetime.Token); }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
        catch (Exception e) { Fail(e); }
    }

    /// <summary>POSTs a body, again with the same rid when the network lost it (XEP-0124 §14), and returns the answer's
    /// <c>&lt;body/&gt;</c> with its children.</summary>
    private async Task<XElement> PostAsync(long rid, byte[] body, CancellationToken cancellationToken, TaskCompletionSource? written = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var content = new BodyContent(body, written);
                using var response = await _http.PostAsync(_url, content, cancellationToken);
                if (response.StatusCode != HttpStatusCode.OK)
                    throw new XmppConnectionLostException($"The BOSH request {rid} was answered HTTP {(int)response.StatusCode}.");
                var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                // A connection cut before the answer's body (seen as an empty answer) lost the request like any other cut.
                if (answer.AsSpan().Trim(" \t\r\n"u8).IsEmpty) throw new HttpRequestException("The answer ended before its <body/>.");
                return ParseBody(answer);
            }
            catch (HttpRequestException e) when (HttpEndpoint.IsCertificateRejection(e))
            {
                throw new XmppAuthenticationException("tls-certificate-rejected", e.Message);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                if (attempt >= Retries)
                    throw new XmppConnectionLostException($"The BOSH request {rid} to {_url} failed: {e.Message}", e) { NeverSent = _sid is null };
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
            }
        }
    }

    /// <summary>Hands answers on in rid order: an answer that overtook an earlier one waits for it.</summary>
    private void Deliver(long rid, XElement? answer)
    {
        lock (_gate)
        {
            _answered[rid] = answer;
            while (_answered.Remove(_nextToDeliver, out var next))
            {
                _nextToDeliver++;
                if (next is null) continue;
                foreach (var item in Events(next)) _inbound.Writer.TryWrite(item);
                if ((string?)next.Attribute("type") != "terminate") continue;
                _closed = true;
                var condition = (string?)next.Attribute("condition");
                _inbound.Writer.TryComplete(condition is null ? null
                    : new XmppConnectionLostException($"The server ended the BOSH session ({condition})."));
            }
        }
    }

    private void Fail(Exception error)
    {
        lock (_gate) _closed = true;
        _inbound.Writer.TryComplete(error);
    }

    /// <summary>The children of a body, read as first-level elements of a stream: limits apply to each on its own.</summary>
    private IEnumerable<XmlStreamEvent> Events(XElement body)
    {
        var parser = new XmppStreamParser(_limits);
        var events = new List<XmlStreamEvent>();
        parser.Feed(StandInHeader, events);
        events.Clear();
        parser.Feed((byte[])body.Annotation<byte[]>()!, events);
        foreach (var item in events) yield return item;
        if ((string?)body.Attribute("type") == "terminate") yield return new XmlStreamEvent.StreamClosed();
    }

    /// <summary>Splits an answer into its <c>&lt;body&gt;</c> start tag (parsed, for the session's attributes) and its
    /// content (kept as bytes for the stream parser, which enforces the stanza limits).</summary>
    private static XElement ParseBody(byte[] bytes)
    {
        var span = bytes.AsSpan().Trim(" \t\r\n"u8);
        var tagEnd = StartTagEnd(span);
        if (!span.StartsWith("<body"u8) || tagEnd < 0) throw new XmppProtocolException("A BOSH answer is not a <body/>.");
        var empty = span[tagEnd - 1] == (byte)'/';
        var startTag = Encoding.UTF8.GetString(span[..(empty ? tagEnd - 1 : tagEnd)]) + "/>";
        XElement body;
        try { body = XElement.Parse(startTag); }
        catch (System.Xml.XmlException e) { throw new XmppProtocolException("A BOSH answer's <body> tag is not XML.", e); }
        if (body.Name != XName.Get("body", HttpBind)) throw new XmppProtocolException($"A BOSH answer is <{body.Name}>, not an httpbind <body/>.");
        var content = empty ? [] : span[(tagEnd + 1)..];
        if (!empty)
        {
            if (!content.EndsWith("</body>"u8)) throw new XmppProtocolException("A BOSH answer's <body> is not closed.");
            content = content[..^"</body>".Length];
        }
        body.AddAnnotation(content.ToArray());
        return body;
    }

    /// <summary>Index of the <c>&gt;</c> ending the first start tag (outside quoted values), or -1.</summary>
    private static int StartTagEnd(ReadOnlySpan<byte> span)
    {
        byte quote = 0;
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (quote != 0) { if (c == quote) quote = 0; }
            else if (c is (byte)'"' or (byte)'\'') quote = c;
            else if (c == (byte)'>') return i;
        }
        return -1;
    }

    private static byte[] Body(long rid, string attributes, IReadOnlyList<ReadOnlyMemory<byte>> elements)
    {
        var buffer = new MemoryStream();
        buffer.Write(Encoding.UTF8.GetBytes($"<body xmlns='{HttpBind}' xmlns:xmpp='{XBosh}' rid='{rid}'{attributes}"));
        if (elements.Count == 0)
        {
            buffer.Write("/>"u8);
            return buffer.ToArray();
        }
        buffer.WriteByte((byte)'>');
        foreach (var element in elements) buffer.Write(StandaloneElement.WithClientNamespace(element).Span);
        buffer.Write("</body>"u8);
        return buffer.ToArray();
    }

    private static XElement StreamHeader(string from, string id, string? version = "1.0") =>
        new(Ns.Stream + "stream", new XAttribute("from", from), new XAttribute("id", id), new XAttribute("version", version ?? "1.0"));

    /// <summary>The request body, which says when it has been written to the connection.</summary>
    private sealed class BodyContent : ByteArrayContent
    {
        private readonly TaskCompletionSource? _written;

        public BodyContent(byte[] body, TaskCompletionSource? written) : base(body)
        {
            _written = written;
            Headers.ContentType = new MediaTypeHeaderValue("text/xml") { CharSet = "utf-8" };
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await base.SerializeToStreamAsync(stream, context, cancellationToken);
            _written?.TrySetResult();
        }
    }
}
