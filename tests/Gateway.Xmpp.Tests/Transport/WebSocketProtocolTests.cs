using System.Net;
using System.Net.WebSockets;
using System.Text;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Transport;

namespace Gateway.Xmpp.Tests.Transport;

/// <summary>RFC 7395 on the wire, against a scripted WebSocket server: each test shows the messages exchanged, one
/// complete element per message.</summary>
public sealed class WebSocketProtocolTests : IAsyncLifetime
{
    private const string Framing = "urn:ietf:params:xml:ns:xmpp-framing";
    private readonly HttpListener _listener = new();
    private readonly string _endpoint;
    private XmppClient? _client;
    private WebSocket? _server;

    public WebSocketProtocolTests()
    {
        var port = ProsodyFixture.ReserveFreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/xmpp-websocket/");
        _endpoint = $"ws://127.0.0.1:{port}/xmpp-websocket/";
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _listener.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        _server?.Dispose();
        _listener.Close();
    }

    private XmppClient CreateClient() => _client = new XmppClient(new XmppClientOptions
    {
        Jid = Jid.Parse("alice@example.com"),
        Password = "secret",
        Resource = "r1",
        Endpoint = _endpoint,
        RequireTls = false,
        AllowPlainWithoutTls = true,
        EnableStreamManagement = false,
        MaxInitialAttempts = 1,
    });

    private async Task AcceptAsync(string? subProtocol = "xmpp")
    {
        var context = await _listener.GetContextAsync().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("xmpp", context.Request.Headers["Sec-WebSocket-Protocol"]);
        _server = (await context.AcceptWebSocketAsync(subProtocol)).WebSocket;
    }

    private async Task<string> ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var result = await _server!.ReceiveAsync(buffer, timeout.Token);
        Assert.True(result.EndOfMessage, "one element per message, in one frame here");
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    private Task SendAsync(string xml) =>
        _server!.SendAsync(Encoding.UTF8.GetBytes(xml), WebSocketMessageType.Text, endOfMessage: true, Ct);

    private async Task OpenAsync(string features)
    {
        await SendAsync($"<open xmlns='{Framing}' from='example.com' id='s-1' version='1.0' xml:lang='en'/>");
        await SendAsync($"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>{features}</stream:features>");
    }

    [Fact]
    public async Task TheStreamIsOpenedWithOpenEachElementIsAMessageOfItsOwnWithItsNamespaceAndCloseEndsIt()
    {
        var start = CreateClient().StartAsync(Ct);
        await AcceptAsync();

        Assert.Equal($"<open xmlns='{Framing}' to='example.com' from='alice@example.com' version='1.0' xml:lang='en'/>", await ReceiveAsync());
        await OpenAsync("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>");
        Assert.Equal("<auth mechanism=\"PLAIN\" xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">AGFsaWNlAHNlY3JldA==</auth>", await ReceiveAsync());
        await SendAsync("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");

        // The restart after SASL is a new <open/> (RFC 7395 §3.5); there is no STARTTLS on a WebSocket.
        Assert.Equal($"<open xmlns='{Framing}' to='example.com' from='alice@example.com' version='1.0' xml:lang='en'/>", await ReceiveAsync());
        await OpenAsync("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>");
        var bind = await ReceiveAsync();
        // A stanza standing alone declares jabber:client, which a TCP stream's header would have given it.
        Assert.StartsWith("<iq xmlns='jabber:client' type=\"set\" id=\"", bind, StringComparison.Ordinal);
        Assert.EndsWith("\"><bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><resource>r1</resource></bind></iq>", bind, StringComparison.Ordinal);
        var id = bind.Split('"')[3];
        await SendAsync($"<iq xmlns='jabber:client' type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/r1</jid></bind></iq>");
        await start;
        Assert.Equal("<presence xmlns='jabber:client'><priority>0</priority></presence>", await ReceiveAsync());
        Assert.Equal(Jid.Parse("alice@example.com/r1"), _client!.LocalJid);

        await _client.DisposeAsync();
        Assert.Equal($"<close xmlns='{Framing}'/>", await ReceiveAsync());
    }

    [Fact]
    public async Task TheServersCloseEndsTheStreamAndTheClientReconnects()
    {
        var client = CreateClient();
        var lifecycle = new System.Collections.Concurrent.ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        var start = client.StartAsync(Ct);
        await AcceptAsync();
        await ReceiveAsync();
        await OpenAsync("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>");
        await ReceiveAsync();
        await SendAsync("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        await ReceiveAsync();
        await OpenAsync("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>");
        var id = (await ReceiveAsync()).Split('"')[3];
        await SendAsync($"<iq xmlns='jabber:client' type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/r1</jid></bind></iq>");
        await start;
        await ReceiveAsync();

        await SendAsync($"<close xmlns='{Framing}'/>");

        // The client dials again: a new WebSocket, opened with <open/>.
        await AcceptAsync();
        Assert.StartsWith($"<open xmlns='{Framing}'", await ReceiveAsync(), StringComparison.Ordinal);
        Assert.Contains(LifecycleKind.Destroyed, lifecycle);
    }

    [Fact]
    public async Task AServerThatDoesNotAgreeToTheXmppSubprotocolIsRefused()
    {
        var start = CreateClient().StartAsync(Ct);
        await AcceptAsync(subProtocol: null);

        var error = await Assert.ThrowsAnyAsync<XmppException>(() => start);
        Assert.Contains("xmpp", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<iq type=\"get\" id=\"1\"/>", "<iq xmlns='jabber:client' type=\"get\" id=\"1\"/>")]
    [InlineData("<presence/>", "<presence xmlns='jabber:client'/>")]
    [InlineData("<message id=\"a xmlns=b\" to=\"x@y\"><body>xmlns=</body></message>", "<message xmlns='jabber:client' id=\"a xmlns=b\" to=\"x@y\"><body>xmlns=</body></message>")]
    [InlineData("<r xmlns=\"urn:xmpp:sm:3\" />", "<r xmlns=\"urn:xmpp:sm:3\" />")]
    [InlineData("<enable resume=\"true\" xmlns=\"urn:xmpp:sm:3\"/>", "<enable resume=\"true\" xmlns=\"urn:xmpp:sm:3\"/>")]
    public void AStanzaWithoutItsOwnDefaultNamespaceGetsJabberClient(string serialized, string framed)
    {
        var result = StandaloneElement.WithClientNamespace(Encoding.UTF8.GetBytes(serialized));

        Assert.Equal(framed, Encoding.UTF8.GetString(result.Span));
    }
}
