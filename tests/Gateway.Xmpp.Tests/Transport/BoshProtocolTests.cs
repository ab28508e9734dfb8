using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.Tests.Transport;

/// <summary>XEP-0124 / XEP-0206 on the wire, against a scripted BOSH server that answers every request at once with
/// what it has queued (or, after a short wait, with an empty body). The tests show the bodies the client POSTs.</summary>
public sealed partial class BoshProtocolTests : IAsyncLifetime
{
    private const string HttpBind = "http://jabber.org/protocol/httpbind";
    private readonly HttpListener _listener = new();
    private readonly string _endpoint;
    private readonly ConcurrentQueue<string> _outgoing = new();
    private readonly List<string> _received = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile string? _abortOnce;
    private XmppClient? _client;

    public BoshProtocolTests()
    {
        var port = ProsodyFixture.ReserveFreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/http-bind/");
        _endpoint = $"http://127.0.0.1:{port}/http-bind/";
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _listener.Start();
        _ = Task.Run(ServeAsync, CancellationToken.None);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        await _stop.CancelAsync();
        _listener.Close();
        _stop.Dispose();
    }

    [GeneratedRegex("rid='(\\d+)'")]
    private static partial Regex Rid();

    private static long RidOf(string body) => long.Parse(Rid().Match(body).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => AnswerAsync(context), CancellationToken.None);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        lock (_received) _received.Add(body);
        if (_abortOnce is { } marker && body.Contains(marker, StringComparison.Ordinal))
        {
            _abortOnce = null;
            context.Response.Abort(); // the connection drops before the answer's body: the request is lost
            return;
        }
        var payload = new StringBuilder();
        for (var i = 0; i < 6 && payload.Length == 0 && !body.Contains("type='terminate'", StringComparison.Ordinal); i++)
        {
            while (_outgoing.TryDequeue(out var item)) payload.Append(item);
            if (payload.Length == 0) await Task.Delay(50);
        }
        var session = body.Contains("sid=", StringComparison.Ordinal) ? "" : " sid='s1' wait='60' requests='2' hold='1' xmpp:version='1.0' from='example.com'";
        var answer = Encoding.UTF8.GetBytes($"<body xmlns='{HttpBind}' xmlns:xmpp='urn:xmpp:xbosh' xmlns:stream='http://etherx.jabber.org/streams'{session}>{payload}</body>");
        context.Response.ContentType = "text/xml; charset=utf-8";
        await context.Response.OutputStream.WriteAsync(answer);
        context.Response.Close();
    }

    private async Task<string> ReceivedAsync(Func<string, bool> match, string what, int count = 1)
    {
        for (var i = 0; i < 600; i++)
        {
            lock (_received)
            {
                var found = _received.Where(match).ToList();
                if (found.Count >= count) return found[count - 1];
            }
            await Task.Delay(50, Ct);
        }
        lock (_received) throw new TimeoutException("The client did not send " + what + ": " + string.Join("\n", _received));
    }

    private static string Features(string inner) => $"<stream:features>{inner}</stream:features>";

    [Fact]
    public async Task ASessionIsCreatedRestartedAfterSaslCarriesJabberClientStanzasResendsALostRequestWithItsRidAndTerminates()
    {
        _outgoing.Enqueue(Features("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"));
        _client = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Parse("alice@example.com"),
            Password = "secret",
            Resource = "r1",
            Endpoint = _endpoint,
            RequireTls = false,
            AllowPlainWithoutTls = true,
            MaxInitialAttempts = 1,
        });
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        _client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        var start = _client.StartAsync(Ct);

        var create = await ReceivedAsync(b => !b.Contains("sid=", StringComparison.Ordinal), "the session request");
        var rid = RidOf(create);
        Assert.Equal($"<body xmlns='{HttpBind}' xmlns:xmpp='urn:xmpp:xbosh' rid='{rid}' content='text/xml; charset=utf-8' hold='1' ver='1.6' wait='60' to='example.com' xml:lang='en' xmpp:version='1.0' from='alice@example.com'/>", create);

        var auth = await ReceivedAsync(b => b.Contains("<auth", StringComparison.Ordinal), "SASL auth");
        Assert.Equal($"<body xmlns='{HttpBind}' xmlns:xmpp='urn:xmpp:xbosh' rid='{rid + 1}' sid='s1'><auth mechanism=\"PLAIN\" xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">AGFsaWNlAHNlY3JldA==</auth></body>", auth);
        _outgoing.Enqueue("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");

        // XEP-0206 §5: the stream restart after SASL is an empty body with xmpp:restart='true'.
        var restart = await ReceivedAsync(b => b.Contains("xmpp:restart", StringComparison.Ordinal), "the restart");
        Assert.Matches($"^<body xmlns='{Regex.Escape(HttpBind)}' xmlns:xmpp='urn:xmpp:xbosh' rid='\\d+' sid='s1' to='example.com' xml:lang='en' xmpp:restart='true'/>$", restart);
        _outgoing.Enqueue(Features("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/>"));

        var bind = await ReceivedAsync(b => b.Contains("xmpp-bind", StringComparison.Ordinal), "bind");
        Assert.Contains("><iq xmlns='jabber:client' type=\"set\" id=\"", bind, StringComparison.Ordinal);
        var bindId = XElement.Parse(bind).Elements().Single().Attribute("id")!.Value;
        _outgoing.Enqueue($"<iq xmlns='jabber:client' type='result' id='{bindId}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/r1</jid></bind></iq>");
        await start;
        // No XEP-0198 over BOSH, though offered: the session survives lost requests by itself. Presence comes next.
        await ReceivedAsync(b => b.Contains("<presence xmlns='jabber:client'><priority>0</priority></presence>", StringComparison.Ordinal), "presence");
        Assert.Null(_client.StreamManagementStatistics);

        // The request carrying a ping is lost on the way: it is sent again, with the same rid, and answered.
        _abortOnce = "urn:xmpp:ping";
        var ping = _client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: Ct);
        var first = await ReceivedAsync(b => b.Contains("urn:xmpp:ping", StringComparison.Ordinal), "the ping");
        var again = await ReceivedAsync(b => b.Contains("urn:xmpp:ping", StringComparison.Ordinal), "the ping again", count: 2);
        Assert.Equal(first, again);
        var pingId = XElement.Parse(first).Elements().Single().Attribute("id")!.Value;
        _outgoing.Enqueue($"<iq xmlns='jabber:client' type='result' id='{pingId}'/>");
        await ping;
        Assert.Equal([LifecycleKind.Established], lifecycle);

        await _client.DisposeAsync();
        var terminate = await ReceivedAsync(b => b.Contains("type='terminate'", StringComparison.Ordinal), "the terminate");
        Assert.StartsWith($"<body xmlns='{HttpBind}' xmlns:xmpp='urn:xmpp:xbosh' rid='", terminate, StringComparison.Ordinal);
        // Every request had a rid of its own, one after the other; only the lost one was repeated.
        List<long> rids;
        lock (_received) rids = _received.Select(RidOf).ToList();
        Assert.Equal(rids.Count - 1, rids.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, rids.Count - 1).Select(i => rid + i), rids.Distinct().Order());
    }
}
