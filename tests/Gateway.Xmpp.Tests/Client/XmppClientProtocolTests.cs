// The scripted peer bounds every read with its own timeout, so these calls do not take the test's token.
#pragma warning disable xUnit1051
using System.Collections.Concurrent;
using System.Xml.Linq;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tests.Fakes;

namespace Gateway.Xmpp.Tests.Client;

/// <summary>The client against a scripted server: each test shows the stanzas exchanged.</summary>
public sealed class XmppClientProtocolTests : IAsyncLifetime
{
    private readonly FakeXmppServer _server = new();
    private readonly ConcurrentQueue<XmppLifecycleEvent> _lifecycle = new();
    private XmppClient? _client;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private XmppClient CreateClient(Action<XmppClientOptions>? configure = null)
    {
        var options = new XmppClientOptions
        {
            Jid = Jid.Parse($"alice@{FakeXmppServer.Domain}"),
            Password = "secret",
            Resource = "r1",
            Host = "127.0.0.1",
            Port = _server.Port,
            RequireTls = false,
            AllowPlainWithoutTls = true,
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(20),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
            MaxInitialAttempts = 1,
            DefaultIqTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        _client = new XmppClient(options);
        _client.Lifecycle += (_, e) => _lifecycle.Enqueue(e);
        return _client;
    }

    private async Task<(XmppClient Client, FakePeer Peer)> ConnectAsync(Action<XmppClientOptions>? configure = null, string features = FakeLogin.BindAndSm)
    {
        var client = CreateClient(configure);
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        var peer = await accept;
        await FakeLogin.PlainLoginAsync(peer, features);
        await start;
        var presence = await peer.ReadElementAsync();
        Assert.Equal("presence", presence.Name.LocalName);
        return (client, peer);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++) await Task.Delay(25);
        Assert.True(condition());
    }

    private async Task<XmppLifecycleEvent> WaitForLifecycleAsync(LifecycleKind kind, int occurrence = 1)
    {
        for (var i = 0; i < 400; i++)
        {
            var match = _lifecycle.Where(e => e.Kind == kind).ElementAtOrDefault(occurrence - 1);
            if (match is not null) return match;
            await Task.Delay(25);
        }
        throw new TimeoutException($"No {kind} lifecycle event; saw {string.Join(", ", _lifecycle.Select(e => e.Kind))}.");
    }

    [Fact]
    public async Task LoginOverStartTlsTrustsThePinnedCertificateAndSendsPresenceWithPriorityZero()
    {
        var client = CreateClient(o =>
        {
            o.RequireTls = true;
            o.AllowPlainWithoutTls = false;
            o.Tls.TrustedCertificatePath = _server.CertificatePath;
        });
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        await using var peer = await accept;

        var header = await peer.OpenStreamAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>");
        Assert.Equal(FakeXmppServer.Domain, (string?)header.Attribute("to"));
        Assert.Equal(XName.Get("starttls", "urn:ietf:params:xml:ns:xmpp-tls"), (await peer.ReadElementAsync()).Name);
        await peer.SendAsync("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await peer.UpgradeToTlsAsync();

        var auth = await FakeLogin.PlainLoginAsync(peer);
        Assert.Equal("PLAIN", (string?)auth.Attribute("mechanism"));
        Assert.Equal("\0alice\0secret", FakeLogin.PlainCredentials(auth));
        await start;

        var presence = await peer.ReadElementAsync();
        Assert.Equal("<presence xmlns=\"jabber:client\"><priority>0</priority></presence>", presence.ToString(SaveOptions.DisableFormatting));
        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal(Jid.Parse("alice@example.com/r1"), client.LocalJid);
    }

    [Fact]
    public async Task AnUntrustedCertificateIsRefusedAndNotRetried()
    {
        var client = CreateClient(o => { o.RequireTls = true; o.MaxInitialAttempts = 3; });
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        await using var peer = await accept;
        await peer.OpenStreamAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await peer.ReadElementAsync();
        await peer.SendAsync("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        _ = peer.UpgradeToTlsAsync().ContinueWith(_ => { }, TaskScheduler.Default);

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => start);
        Assert.Equal("tls-certificate-rejected", error.Condition);
        Assert.Equal(ConnectionState.Failed, client.State);
    }

    [Fact]
    public async Task PlainIsNeverSentOverAnUnencryptedStream()
    {
        var client = CreateClient(o => o.AllowPlainWithoutTls = false);
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        await using var peer = await accept;
        await peer.OpenStreamAsync(FakeLogin.PlainMechanism);

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => start);
        Assert.Equal("no-acceptable-mechanism", error.Condition);
        Assert.DoesNotContain("<auth", peer.Received.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingStartTlsIsRefusedWhenTlsIsRequired()
    {
        var client = CreateClient(o => o.RequireTls = true);
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        await using var peer = await accept;
        await peer.OpenStreamAsync(FakeLogin.PlainMechanism);

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => start);
        Assert.Equal("encryption-required", error.Condition);
    }

    [Fact]
    public async Task AuthenticationFailureIsReportedAndNeverRetried()
    {
        var client = CreateClient(o => o.MaxInitialAttempts = 5);
        var accept = _server.AcceptAsync();
        var start = client.StartAsync();
        await using var peer = await accept;
        await peer.OpenStreamAsync(FakeLogin.PlainMechanism);
        await peer.ReadElementAsync();
        await peer.SendAsync("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>Invalid username or password</text></failure>");

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => start);
        Assert.Equal("not-authorized", error.Condition);
        Assert.Equal("Invalid username or password", error.Text);
        await Task.Delay(300);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _server.AcceptAsync(new CancellationTokenSource(200).Token));
    }

    [Fact]
    public async Task ConflictStreamErrorStopsTheConnectionForGood()
    {
        var (client, peer) = await ConnectAsync();
        await using var _ = peer;
        await peer.SendAsync("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error></stream:stream>");

        var failed = await WaitForLifecycleAsync(LifecycleKind.Failed);
        var streamError = Assert.IsType<XmppStreamErrorException>(failed.Reason);
        Assert.Equal("conflict", streamError.Condition);
        Assert.Equal(ConnectionState.Failed, client.State);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _server.AcceptAsync(new CancellationTokenSource(400).Token));
    }

    [Fact]
    public async Task AnIqRoundTripMatchesTheReplyById()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var _ = peer;
        var request = client.SendIqAsync(Jid.Parse("commands.active-calls.example.com"), IqType.Set,
            new XElement(Ns.Commands + "command", new XAttribute("node", "create")));

        var sent = await peer.ReadElementAsync();
        Assert.Equal("set", (string?)sent.Attribute("type"));
        Assert.Equal("commands.active-calls.example.com", (string?)sent.Attribute("to"));
        Assert.Equal("create", (string?)sent.Element(Ns.Commands + "command")?.Attribute("node"));
        await peer.SendAsync($"<iq type='result' id='{sent.Attribute("id")!.Value}' from='commands.active-calls.example.com'><command xmlns='http://jabber.org/protocol/commands' status='completed' node='create'/></iq>");

        var reply = await request;
        Assert.Equal("completed", (string?)reply.Element(Ns.Commands + "command")?.Attribute("status"));
    }

    [Fact]
    public async Task LateDuplicateAndSpoofedRepliesNeverCompleteAnotherRequest()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var _ = peer;
        var service = Jid.Parse("commands.active-calls.example.com");
        var request = client.SendIqAsync(service, IqType.Get, new XElement(Ns.DiscoInfo + "query"));
        var id = (await peer.ReadElementAsync()).Attribute("id")!.Value;

        await peer.SendAsync($"<iq type='result' id='{id}' from='mallory@example.com/evil'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='spoofed'/></query></iq>");
        await peer.SendAsync($"<iq type='result' id='{id}' from='commands.active-calls.example.com'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='real'/></query></iq>");
        await peer.SendAsync($"<iq type='result' id='{id}' from='commands.active-calls.example.com'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='duplicate'/></query></iq>");
        await peer.SendAsync("<iq type='result' id='never-asked' from='commands.active-calls.example.com'/>");

        var reply = await request;
        Assert.Equal("real", (string?)reply.Descendants(Ns.DiscoInfo + "identity").Single().Attribute("category"));
        // A ping round trip flushes the reader past the remaining replies.
        await peer.SendAsync("<iq type='get' id='p1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        await peer.ReadUntilAsync(e => (string?)e.Attribute("id") == "p1");
        Assert.Equal(3, client.UnmatchedIqReplies);
        Assert.Equal(ConnectionState.Established, client.State);
    }

    [Fact]
    public async Task UnknownIqRequestsAreAnsweredServiceUnavailableAndPingsAreAnswered()
    {
        var (_, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var __ = peer;
        await peer.SendAsync("<iq type='get' id='v1' from='example.com'><query xmlns='jabber:iq:version'/></iq>");
        var unknown = await peer.ReadElementAsync();
        Assert.Equal("error", (string?)unknown.Attribute("type"));
        Assert.Equal("v1", (string?)unknown.Attribute("id"));
        Assert.Equal("example.com", (string?)unknown.Attribute("to"));
        Assert.NotNull(unknown.Element("{jabber:client}error")?.Element(Ns.Stanzas + "service-unavailable"));

        await peer.SendAsync("<iq type='get' id='ping1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        var pong = await peer.ReadElementAsync();
        Assert.Equal("result", (string?)pong.Attribute("type"));
        Assert.Equal("ping1", (string?)pong.Attribute("id"));
    }

    [Fact]
    public async Task RegisteredHandlersRunOffTheReaderAndTheirRepliesGoBack()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var _ = peer;
        var release = new TaskCompletionSource();
        using var registration = client.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", async (request, ct) =>
        {
            await release.Task.WaitAsync(ct);
            return IqResponse.Result(new XElement(Ns.DiscoInfo + "query", new XElement(Ns.DiscoInfo + "identity", new XAttribute("category", "client"))));
        });
        await peer.SendAsync("<iq type='get' id='slow' from='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        // While the handler is blocked, the reader still answers pings.
        await peer.SendAsync("<iq type='get' id='ping2' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        Assert.Equal("ping2", (string?)(await peer.ReadElementAsync()).Attribute("id"));
        release.SetResult();
        var reply = await peer.ReadElementAsync();
        Assert.Equal("slow", (string?)reply.Attribute("id"));
        Assert.Equal("client", (string?)reply.Descendants(Ns.DiscoInfo + "identity").Single().Attribute("category"));
    }

    [Fact]
    public async Task MessagesReachSubscribersInArrivalOrder()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var _ = peer;
        using var subscription = client.Subscribe(m => m.Name.LocalName == "message" && m.Element(Ns.PubSubEvent + "event") is not null);
        for (var i = 0; i < 50; i++)
            await peer.SendAsync($"<message from='pubsub.example.com' id='m{i}'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/x'/></event></message>");
        await peer.SendAsync("<message from='bob@example.com'><body>not an event</body></message>");

        var ids = new List<string>();
        await foreach (var message in subscription.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            ids.Add((string)message.Attribute("id")!);
            if (ids.Count == 50) break;
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => "m" + i), ids);
    }

    [Fact]
    public async Task WithoutStreamManagementPendingIqsFailAtOnceWhenTheStreamIsLost()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        var requests = Enumerable.Range(0, 5)
            .Select(_ => client.SendIqAsync(Jid.Parse("commands.active-calls.example.com"), IqType.Get, new XElement(Ns.DiscoInfo + "query")))
            .ToArray();
        for (var i = 0; i < 5; i++) await peer.ReadElementAsync();
        var accept = _server.AcceptAsync();
        peer.Abort();

        foreach (var request in requests)
            await Assert.ThrowsAsync<XmppConnectionLostException>(() => request);
        var destroyed = await WaitForLifecycleAsync(LifecycleKind.Destroyed);
        Assert.IsType<XmppConnectionLostException>(destroyed.Reason);

        // And it comes back by itself.
        await using var second = await accept;
        await FakeLogin.PlainLoginAsync(second, FakeLogin.BindOnly);
        await WaitForLifecycleAsync(LifecycleKind.Established, occurrence: 2);
    }

    [Fact]
    public async Task ResumeAfterADroppedSocketResendsUnackedStanzasAndTheirRepliesStillArrive()
    {
        var (client, peer) = await ConnectAsync();
        var service = Jid.Parse("commands.active-calls.example.com");
        var request = client.SendIqAsync(service, IqType.Set, new XElement(Ns.Commands + "command", new XAttribute("node", "create")));
        var original = await peer.ReadUntilAsync(e => e.Name.LocalName == "iq");
        var accept = _server.AcceptAsync();
        peer.Abort();
        await WaitForLifecycleAsync(LifecycleKind.Suspended);
        Assert.False(request.IsCompleted);

        await using var second = await accept;
        var resume = await FakeLogin.LoginUntilResumeAsync(second);
        Assert.Equal(XName.Get("resume", "urn:xmpp:sm:3"), resume.Name);
        Assert.Equal("sm-1", (string?)resume.Attribute("previd"));
        Assert.Equal("0", (string?)resume.Attribute("h"));
        // The server had received the presence (1 stanza) but not the IQ.
        await second.SendAsync("<resumed xmlns='urn:xmpp:sm:3' previd='sm-1' h='1'/>");

        var resent = await second.ReadUntilAsync(e => e.Name.LocalName == "iq");
        Assert.Equal((string?)original.Attribute("id"), (string?)resent.Attribute("id"));
        await second.SendAsync($"<iq type='result' id='{resent.Attribute("id")!.Value}' from='commands.active-calls.example.com'/><r xmlns='urn:xmpp:sm:3'/>");
        await request;
        // The inbound count goes on from the h of <resume/>: the reply is stanza 1 of the resumed session.
        Assert.Equal("1", (string?)(await second.ReadUntilAsync(e => e.Name == Ns.StreamManagement + "a")).Attribute("h"));
        await WaitForLifecycleAsync(LifecycleKind.Resumed);
        Assert.DoesNotContain(_lifecycle, e => e.Kind == LifecycleKind.Destroyed);
        Assert.Equal(Jid.Parse("alice@example.com/r1"), client.LocalJid);
    }

    [Fact]
    public async Task AResumeAfterACutMidBurstResendsExactlyWhatTheServerHadNotHandled()
    {
        var (client, peer) = await ConnectAsync(o => o.PingInterval = TimeSpan.FromHours(1));
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);   // after the presence, never answered
        var service = Jid.Parse("commands.active-calls.example.com");
        var requests = Enumerable.Range(0, 30)
            .Select(_ => client.SendIqAsync(service, IqType.Get, new XElement(Ns.DiscoInfo + "query"))).ToArray();
        var ids = new List<string>();
        while (ids.Count < 30) ids.Add((string)(await peer.ReadUntilAsync(e => e.Name.LocalName == "iq")).Attribute("id")!);
        // The server answers 5; it had handled only 12 of the 30 (plus the presence) when the link broke.
        await peer.SendAsync(string.Concat(ids.Take(5).Select(id => $"<iq type='result' id='{id}' from='commands.active-calls.example.com'/>")));
        await Task.WhenAll(requests.Take(5));
        var accept = _server.AcceptAsync();
        peer.Abort();

        await using var second = await accept;
        var resume = await FakeLogin.LoginUntilResumeAsync(second);
        Assert.Equal("5", (string?)resume.Attribute("h"));   // the five replies it read
        await second.SendAsync("<resumed xmlns='urn:xmpp:sm:3' previd='sm-1' h='13'/>");

        // Exactly the 18 the server had not handled go out again, in their order, with their ids.
        var resent = new List<string>();
        while (resent.Count < 18) resent.Add((string)(await second.ReadUntilAsync(e => e.Name.LocalName == "iq")).Attribute("id")!);
        Assert.Equal(ids.GetRange(12, 18), resent);
        await second.SendAsync(string.Concat(ids.GetRange(5, 25).Select(id => $"<iq type='result' id='{id}' from='commands.active-calls.example.com'/>"))
                               + "<r xmlns='urn:xmpp:sm:3'/>");
        await Task.WhenAll(requests);
        // Its count goes on from the h it resumed with: 5 before the cut, 25 after.
        Assert.Equal("30", (string?)(await second.ReadUntilAsync(e => e.Name == Ns.StreamManagement + "a")).Attribute("h"));
        Assert.Equal(0, client.UnmatchedIqReplies);
        await WaitForLifecycleAsync(LifecycleKind.Resumed);
        Assert.DoesNotContain(_lifecycle, e => e.Kind == LifecycleKind.Destroyed);
    }

    [Fact]
    public async Task AFailedResumeReportsTheLostStanzasFailsPendingIqsAndBindsAnew()
    {
        var (client, peer) = await ConnectAsync();
        var request = client.SendIqAsync(Jid.Parse("commands.active-calls.example.com"), IqType.Set,
            new XElement(Ns.Commands + "command", new XAttribute("node", "terminate")));
        await peer.ReadUntilAsync(e => e.Name.LocalName == "iq");
        var accept = _server.AcceptAsync();
        peer.Abort();

        await using var second = await accept;
        Assert.Equal("resume", (await FakeLogin.LoginUntilResumeAsync(second)).Name.LocalName);
        await second.SendAsync("<failed xmlns='urn:xmpp:sm:3' h='1'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
        await FakeLogin.CompleteBindAsync(second);
        Assert.Equal("enable", (await second.ReadElementAsync()).Name.LocalName);
        await second.SendAsync("<enabled xmlns='urn:xmpp:sm:3' id='sm-2' resume='true'/>");

        await Assert.ThrowsAsync<XmppConnectionLostException>(() => request);
        var destroyed = await WaitForLifecycleAsync(LifecycleKind.Destroyed);
        var lost = Assert.Single(destroyed.Lost);
        Assert.Equal("terminate", (string?)lost.Element(Ns.Commands + "command")?.Attribute("node"));
        await WaitForLifecycleAsync(LifecycleKind.Established, occurrence: 2);
    }

    [Fact]
    public async Task AnAckRequestIsAnsweredWithTheInboundCount()
    {
        var (_, peer) = await ConnectAsync();
        await using var _ = peer;
        await peer.SendAsync("<message from='pubsub.example.com'><body>1</body></message><message from='pubsub.example.com'><body>2</body></message><r xmlns='urn:xmpp:sm:3'/>");
        var ack = await peer.ReadUntilAsync(e => e.Name.LocalName == "a");
        Assert.Equal("2", (string?)ack.Attribute("h"));
    }

    [Fact]
    public async Task AcksAnsweringABurstAreCumulativeAndTheLastCountsEveryStanza()
    {
        var (client, peer) = await ConnectAsync();
        await using var _ = peer;
        await peer.SendAsync("<message from='pubsub.example.com'><body>1</body></message><message from='pubsub.example.com'><body>2</body></message>" +
                             "<r xmlns='urn:xmpp:sm:3'/><message from='pubsub.example.com'><body>3</body></message><r xmlns='urn:xmpp:sm:3'/>");
        // Requests that reach the client before its writer flushes share one answer; either way no answer is ever stale.
        var answers = new List<uint>();
        while (answers.LastOrDefault() != 3)
            answers.Add(uint.Parse((string)(await peer.ReadUntilAsync(e => e.Name == Ns.StreamManagement + "a")).Attribute("h")!));
        Assert.InRange(answers.Count, 1, 2);
        Assert.Equal(answers.Order(), answers);
        await WaitUntilAsync(() => client.StreamManagementStatistics is { AckRequestsReceived: 2, AcksSent: >= 1 and <= 2 });
    }

    [Fact]
    public async Task TheInitialPresenceIsFollowedByAnAckRequest()
    {
        var (client, peer) = await ConnectAsync();
        await using var _ = peer;
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);
        await peer.SendAsync("<a xmlns='urn:xmpp:sm:3' h='1'/>");
        await WaitUntilAsync(() => client.StreamManagementStatistics is { AcksReceived: 1, Unacked: 0 });
    }

    [Fact]
    public async Task IqsAreAckedPerWindowAndAnUnansweredRequestIsNeverRepeated()
    {
        // No idle ticks: only the window may bring a request here.
        var (client, peer) = await ConnectAsync(o => o.PingInterval = TimeSpan.FromHours(1));
        await using var _ = peer;
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);   // after the presence, unanswered

        var service = Jid.Parse("commands.active-calls.example.com");
        var requests = Enumerable.Range(0, 3 * StreamManagementState.AckRequestWindow)
            .Select(_ => client.SendIqAsync(service, IqType.Get, new XElement(Ns.DiscoInfo + "query"))).ToArray();
        var ids = new List<string>();
        while (ids.Count < requests.Length)
        {
            var element = await peer.ReadElementAsync();
            Assert.Equal("iq", element.Name.LocalName);   // no second <r/> while the first is unanswered
            ids.Add((string)element.Attribute("id")!);
        }

        // The answer (presence + 30 IQs) frees the next request, which rides on the next flush: here the reply to a ping.
        await peer.SendAsync($"<a xmlns='urn:xmpp:sm:3' h='{1 + requests.Length}'/><iq type='get' id='p1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        Assert.Equal("p1", (string?)(await peer.ReadElementAsync()).Attribute("id"));
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);

        await peer.SendAsync(string.Concat(ids.Select(id => $"<iq type='result' id='{id}' from='commands.active-calls.example.com'/>")));
        await Task.WhenAll(requests);
        Assert.Equal(new StreamManagementStatistics(AckRequestsReceived: 0, AcksSent: 0, AckRequestsSent: 2, AcksReceived: 1, Unacked: 1, InconsistentAcks: 0),
            client.StreamManagementStatistics);
    }

    [Fact]
    public async Task AStanzaSentInALullIsAckedOnceTheStreamGoesQuiet()
    {
        var (client, peer) = await ConnectAsync(o => o.PingInterval = TimeSpan.FromMilliseconds(400));
        await using var _ = peer;
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);
        await peer.SendAsync("<a xmlns='urn:xmpp:sm:3' h='1'/>");

        // One IQ is far below the window; nothing else goes out, so the client asks by itself once it is idle.
        var request = client.SendIqAsync(Jid.Parse("commands.active-calls.example.com"), IqType.Get, new XElement(Ns.DiscoInfo + "query"));
        var sent = await peer.ReadUntilAsync(e => e.Name.LocalName == "iq" && e.Element(Ns.DiscoInfo + "query") is not null);
        // Liveness pings may go out meanwhile (each is answered); they are stanzas too, but far fewer than a window's worth
        // come before the request: it is the lull, not the window, that brings it.
        var stanzasBefore = 1;
        while (await peer.ReadElementAsync() is var element && element.Name != Ns.StreamManagement + "r")
        {
            Assert.NotNull(element.Element(Ns.Ping + "ping"));
            stanzasBefore++;
            await peer.SendAsync($"<iq type='result' id='{element.Attribute("id")!.Value}' from='example.com'/>");
        }
        Assert.InRange(stanzasBefore, 1, StreamManagementState.AckRequestWindow - 1);
        await peer.SendAsync($"<iq type='result' id='{sent.Attribute("id")!.Value}' from='commands.active-calls.example.com'/>");
        await request;
    }

    [Fact]
    public async Task AClosingClientAcksWhatItReceivedRightBeforeItsStreamFooter()
    {
        var (client, peer) = await ConnectAsync();
        await using var _ = peer;
        await peer.SendAsync("<message from='pubsub.example.com'><body>1</body></message><message from='pubsub.example.com'><body>2</body></message>" +
                             "<iq type='get' id='p1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        await peer.ReadUntilAsync(e => (string?)e.Attribute("id") == "p1");

        await client.DisposeAsync();

        var ack = await peer.ReadUntilAsync(e => e.Name.Namespace == Ns.StreamManagement && e.Name.LocalName != "r");
        Assert.Equal(Ns.StreamManagement + "a", ack.Name);
        Assert.Equal("3", (string?)ack.Attribute("h"));
        Assert.IsType<XmlStreamEvent.StreamClosed>(await peer.ReadEventAsync());
    }

    [Fact]
    public async Task AHalfOpenSocketIsDetectedByThePingWatchdogAndReplaced()
    {
        var (client, peer) = await ConnectAsync(o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(200);
            o.PingTimeout = TimeSpan.FromMilliseconds(300);
        }, FakeLogin.BindOnly);
        await using var _ = peer;
        var accept = _server.AcceptAsync();
        // The server goes silent: it reads the ping and never answers, and never closes the socket.
        var ping = await peer.ReadUntilAsync(e => e.Element(Ns.Ping + "ping") is not null);
        Assert.Equal("example.com", (string?)ping.Attribute("to"));

        var destroyed = await WaitForLifecycleAsync(LifecycleKind.Destroyed);
        Assert.Contains("ping", destroyed.Reason!.Message, StringComparison.Ordinal);
        await using var second = await accept;
        await FakeLogin.PlainLoginAsync(second, FakeLogin.BindOnly);
        await WaitForLifecycleAsync(LifecycleKind.Established, occurrence: 2);
        Assert.Equal(ConnectionState.Established, client.State);
    }

    [Fact]
    public async Task MalformedXmlFromTheServerEndsTheStreamAndTheClientStartsAFreshSessionRatherThanResume()
    {
        var (client, peer) = await ConnectAsync();
        await using var _ = peer;
        var accept = _server.AcceptAsync();
        try { await peer.SendAsync("<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><message><body>&lol;</body></message>"); } catch (IOException) { }

        var destroyed = await WaitForLifecycleAsync(LifecycleKind.Destroyed);
        Assert.IsType<XmppProtocolException>(destroyed.Reason);
        Assert.DoesNotContain(_lifecycle, e => e.Kind == LifecycleKind.Suspended);
        await using var second = await accept;
        // A resume would have the server send the same bytes again: the client binds a new session (no <resume/>).
        await FakeLogin.PlainLoginAsync(second, FakeLogin.BindAndSm);
        await WaitForLifecycleAsync(LifecycleKind.Established, occurrence: 2);
        Assert.Equal(ConnectionState.Established, client.State);
        Assert.DoesNotContain("<resume", second.Received.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStanzaPastALimitCostsOnlyItselfAndCountsAsHandled()
    {
        // Server:  <message from='mallory@example.com/x' a0='' … a299=''>…</message>   (past MaxAttributes)
        //          <message from='mallory@example.com/x'><body>xxxx… 64 KiB</body></message>  (past MaxBytes = 8 KiB)
        //          <iq type='get' id='deep' from='mallory@example.com/x'><a><a>… 200 deep</iq>  (past MaxDepth)
        //          <r xmlns='urn:xmpp:sm:3'/>
        // Client:  <iq type='error' id='deep' to='mallory@example.com/x'><error type='modify'><policy-violation/>…
        //          <a xmlns='urn:xmpp:sm:3' h='3'/>     (all three handled: the server never delivers them again)
        var (client, peer) = await ConnectAsync(o => o.Limits = new StanzaLimits { MaxBytes = 8 * 1024 });
        await using var _ = peer;
        Assert.Equal(Ns.StreamManagement + "r", (await peer.ReadElementAsync()).Name);
        var attributes = string.Concat(Enumerable.Range(0, 300).Select(i => $" a{i}=''"));
        await peer.SendAsync($"<message from='mallory@example.com/x'{attributes}><body>hi</body></message>");
        await peer.SendAsync("<message from='mallory@example.com/x'><body>" + new string('x', 64 * 1024) + "</body></message>");
        await peer.SendAsync("<iq type='get' id='deep' from='mallory@example.com/x'>" + string.Concat(Enumerable.Repeat("<a>", 200))
                             + string.Concat(Enumerable.Repeat("</a>", 200)) + "</iq><r xmlns='urn:xmpp:sm:3'/>");

        var refusal = await peer.ReadUntilAsync(e => e.Name.LocalName == "iq");
        Assert.Equal("error", (string?)refusal.Attribute("type"));
        Assert.Equal("deep", (string?)refusal.Attribute("id"));
        Assert.Equal("mallory@example.com/x", (string?)refusal.Attribute("to"));
        Assert.NotNull(refusal.Element("{jabber:client}error")?.Element(Ns.Stanzas + "policy-violation"));
        Assert.Equal("3", (string?)(await peer.ReadUntilAsync(e => e.Name == Ns.StreamManagement + "a")).Attribute("h"));
        Assert.Equal(3, client.DroppedStanzas);

        // The stream is still the first one, and it still works.
        var request = client.SendIqAsync(Jid.Parse("example.com"), IqType.Get, new XElement(Ns.DiscoInfo + "query"));
        var id = (string)(await peer.ReadUntilAsync(e => e.Name.LocalName == "iq")).Attribute("id")!;
        await peer.SendAsync($"<iq type='result' id='{id}' from='example.com'/>");
        await request;
        Assert.Equal(ConnectionState.Established, client.State);
        Assert.DoesNotContain(_lifecycle, e => e.Kind is LifecycleKind.Destroyed or LifecycleKind.Suspended);
    }

    [Fact]
    public async Task AReplyPastALimitFailsItsRequestAtOnceInsteadOfTimingOut()
    {
        var (client, peer) = await ConnectAsync(o => o.Limits = new StanzaLimits { MaxBytes = 8 * 1024 }, FakeLogin.BindOnly);
        await using var _ = peer;
        var service = Jid.Parse("pubsub.example.com");
        var request = client.SendIqAsync(service, IqType.Get, new XElement(Ns.PubSub + "pubsub"), TimeSpan.FromMinutes(5));
        var id = (string)(await peer.ReadElementAsync()).Attribute("id")!;

        // A stranger's oversized "reply" with the same id is dropped unmatched; the service's own one fails the request.
        await peer.SendAsync($"<iq type='result' id='{id}' from='mallory@example.com/x'><pubsub xmlns='http://jabber.org/protocol/pubsub'>{new string('x', 16 * 1024)}</pubsub></iq>");
        await peer.SendAsync($"<iq type='result' id='{id}' from='pubsub.example.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'>{new string('x', 16 * 1024)}</pubsub></iq>");

        var error = await Assert.ThrowsAsync<XmppProtocolException>(() => request.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("dropped unread: larger than 8192 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, client.UnmatchedIqReplies);
        Assert.Equal(ConnectionState.Established, client.State);
    }

    [Fact]
    public async Task SendingWhileReconnectingFailsFastAsNeverSent()
    {
        var (client, peer) = await ConnectAsync(o => o.ReconnectInitialDelay = TimeSpan.FromSeconds(30), FakeLogin.BindOnly);
        peer.Abort();
        await WaitForLifecycleAsync(LifecycleKind.Destroyed);

        var error = await Assert.ThrowsAsync<XmppConnectionLostException>(() =>
            client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping")));
        Assert.True(error.NeverSent);
    }

    [Fact]
    public async Task ValuesWithXmlMetacharactersAreEscapedOnTheWire()
    {
        var (client, peer) = await ConnectAsync(features: FakeLogin.BindOnly);
        await using var _ = peer;
        const string hostile = "</value><evil/>&amp; \"quoted\" 'single' ]]> <![CDATA[x]]>";
        await client.SendAsync(new XElement("message", new XAttribute("to", "bob@example.com"), new XElement("body", hostile)));

        var message = await peer.ReadElementAsync();
        Assert.Equal(hostile, message.Element("{jabber:client}body")?.Value);
        Assert.DoesNotContain("<evil", peer.Received.ToString(), StringComparison.Ordinal);
        Assert.Contains("]]&gt;", peer.Received.ToString(), StringComparison.Ordinal);
    }
}
