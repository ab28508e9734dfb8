using System.Collections.Concurrent;
using System.Xml.Linq;
using Gateway.Testing;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Tests.Integration;

/// <summary>
/// The library against a real XMPP server on loopback (<see cref="ProsodyClientTests"/>, <see cref="EjabberdClientTests"/>):
/// STARTTLS, SCRAM, XEP-0198, components, restarts, a pool; what every server of the repository's deploy scripts must do
/// alike.
/// </summary>
public abstract class XmppServerClientSpecification(IXmppServerFixture server) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
    }

    protected async Task<XmppClientOptions> AccountAsync(string? host = null, string? resource = null)
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..10];
        var domain = host ?? server.Domain;
        await server.RegisterAsync(user, "pässword-1", domain);
        return new XmppClientOptions
        {
            Jid = new Jid(user, domain),
            Password = "pässword-1",
            Resource = resource ?? "test",
            Host = server.Host,
            Port = server.C2sPort,
            Tls = { TrustedCertificatePath = server.CaCertificatePath },
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        };
    }

    protected XmppComponentOptions ComponentOptions(string componentJid) => new()
    {
        ComponentJid = Jid.Parse(componentJid),
        Secret = server.ComponentSecret,
        Host = server.Host,
        Port = server.ComponentPort,
    };

    protected T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    protected static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            if (condition()) return;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("Timed out waiting until " + what);
    }

    [Theory]
    [InlineData(false, "SCRAM-SHA-256")]
    [InlineData(true, "SCRAM-SHA-1")]
    public async Task LogsInOverStartTlsWithScram(bool sha1Host, string expectedMechanism)
    {
        var options = await AccountAsync(sha1Host ? server.Sha1Domain : null);
        var client = Own(new XmppClient(options));
        await client.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal(expectedMechanism, client.AuthenticationMechanism);
        Assert.Equal(options.Jid!.WithResource("test"), client.LocalJid);
    }

    [Fact]
    public async Task AWrongPasswordIsRefusedAsAnAuthenticationFailure()
    {
        var options = await AccountAsync();
        options.Password = "wrong";
        options.MaxInitialAttempts = 3;
        var client = Own(new XmppClient(options));

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => client.StartAsync(TestContext.Current.CancellationToken));
        Assert.Equal("not-authorized", error.Condition);
        Assert.Equal(ConnectionState.Failed, client.State);
    }

    [Fact]
    public async Task AnUntrustedServerCertificateIsRefused()
    {
        var options = await AccountAsync();
        options.Tls.TrustedCertificatePath = null;
        var client = Own(new XmppClient(options));

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => client.StartAsync(TestContext.Current.CancellationToken));
        Assert.Equal("tls-certificate-rejected", error.Condition);
    }

    [Fact]
    public async Task IqRoundTripsReachTheServerAndComeBack()
    {
        var client = Own(new XmppClient(await AccountAsync()));
        await client.StartAsync(TestContext.Current.CancellationToken);

        var info = await client.SendIqAsync(new Jid(null, server.Domain), IqType.Get, new XElement(Ns.DiscoInfo + "query"),
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains(info.Descendants(Ns.DiscoInfo + "identity"), i => (string?)i.Attribute("category") == "server");
        Assert.Contains(info.Descendants(Ns.DiscoInfo + "feature"), f => (string?)f.Attribute("var") == "urn:xmpp:ping");

        var pings = Enumerable.Range(0, 200).Select(_ => client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"),
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(200, (await Task.WhenAll(pings)).Length);
        Assert.Equal(0, client.OutstandingIqs);
    }

    [Fact]
    public async Task AKilledSocketIsResumedWithXep0198AndRequestsKeepWorking()
    {
        var client = Own(new XmppClient(await AccountAsync()));
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        await client.StartAsync(TestContext.Current.CancellationToken);
        var jid = client.LocalJid;

        client.AbortConnection("killed by the test");
        await WaitUntilAsync(() => lifecycle.Contains(LifecycleKind.Resumed), "the stream is resumed");

        Assert.DoesNotContain(LifecycleKind.Destroyed, lifecycle);
        Assert.Equal(jid, client.LocalJid);
        await client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ARequestPendingWhenTheSocketDiesIsAnsweredOnTheResumedStream()
    {
        var component = Own(new XmppComponent(ComponentOptions(server.ActiveCallsComponent)));
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<IqResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var handler = component.RegisterIqHandler(IqType.Get, Ns.DiscoItems + "query", (_, _) =>
        {
            received.TrySetResult();
            return release.Task;
        });
        await component.StartAsync(TestContext.Current.CancellationToken);
        var options = await AccountAsync();
        options.PingInterval = TimeSpan.FromSeconds(2);
        var client = Own(new XmppClient(options));
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        await client.StartAsync(TestContext.Current.CancellationToken);

        // Traffic first, so both sides hold stanzas the other has not acknowledged yet when the socket dies.
        await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"),
            cancellationToken: TestContext.Current.CancellationToken)));
        var request = client.SendIqAsync(component.ComponentJid, IqType.Get, new XElement(Ns.DiscoItems + "query"),
            cancellationToken: TestContext.Current.CancellationToken);
        await received.Task.WaitAsync(TestContext.Current.CancellationToken);
        client.AbortConnection("killed by the test");
        await WaitUntilAsync(() => lifecycle.Contains(LifecycleKind.Resumed), "the stream is resumed");

        release.SetResult(IqResponse.Result(new XElement(Ns.DiscoItems + "query", new XElement(Ns.DiscoItems + "item", new XAttribute("jid", "late@example.com")))));
        var reply = await request;
        Assert.Equal("late@example.com", (string?)reply.Element(Ns.DiscoItems + "query")?.Element(Ns.DiscoItems + "item")?.Attribute("jid"));
        Assert.DoesNotContain(LifecycleKind.Destroyed, lifecycle);
        Assert.Equal(0, client.UnmatchedIqReplies);
        // Both counts stayed exact: the server closes a stream whose acks are off, and ours would count a mismatch.
        await WaitUntilAsync(() => client.StreamManagementStatistics is { Unacked: 0 }, "every stanza is acknowledged");
        Assert.Equal(0, client.StreamManagementStatistics?.InconsistentAcks);
    }

    [Fact]
    public async Task AComponentHandshakesThroughTheServerAndServesClientRequests()
    {
        var component = Own(new XmppComponent(ComponentOptions(server.ActiveCallsComponent)));
        using var handler = component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", (request, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.Commands + "command",
                new XAttribute("node", (string)request.Payload.Attribute("node")!), new XAttribute("status", "completed"),
                new XAttribute("sessionid", request.From!.ToString())))));
        await component.StartAsync(TestContext.Current.CancellationToken);
        var client = Own(new XmppClient(await AccountAsync()));
        await client.StartAsync(TestContext.Current.CancellationToken);

        var reply = await client.SendIqAsync(component.ComponentJid, IqType.Set,
            new XElement(Ns.Commands + "command", new XAttribute("node", "create")), cancellationToken: TestContext.Current.CancellationToken);

        var command = reply.Element(Ns.Commands + "command")!;
        Assert.Equal("completed", (string?)command.Attribute("status"));
        // The component saw the client's full JID as sender, as the server routed it.
        Assert.Equal(client.LocalJid!.ToString(), (string?)command.Attribute("sessionid"));
    }

    [Fact]
    public async Task AfterAServerRestartNoIqIsLeftHangingAndEverythingReconnects()
    {
        var componentOptions = ComponentOptions(server.PubSubComponent);
        componentOptions.ReconnectInitialDelay = TimeSpan.FromMilliseconds(100);
        componentOptions.ReconnectMaxDelay = TimeSpan.FromSeconds(1);
        var component = Own(new XmppComponent(componentOptions));
        var never = new TaskCompletionSource<IqResponse>();
        using var handler = component.RegisterIqHandler(IqType.Get, Ns.DiscoItems + "query", (_, _) => never.Task);
        await component.StartAsync(TestContext.Current.CancellationToken);
        var options = await AccountAsync();
        options.DefaultIqTimeout = TimeSpan.FromMinutes(5);
        var client = Own(new XmppClient(options));
        var lifecycle = new ConcurrentQueue<XmppLifecycleEvent>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e);
        await client.StartAsync(TestContext.Current.CancellationToken);

        // Requests the component will never answer are pending when the server goes away.
        var pending = Enumerable.Range(0, 10).Select(_ => client.SendIqAsync(component.ComponentJid, IqType.Get,
            new XElement(Ns.DiscoItems + "query"), cancellationToken: TestContext.Current.CancellationToken)).ToArray();
        await WaitUntilAsync(() => client.OutstandingIqs == 10, "the requests are outstanding");

        await server.RestartAsync();

        // The restarted server cannot resume the old session, so every pending request fails at once as a lost stream.
        foreach (var request in pending)
            await Assert.ThrowsAsync<XmppConnectionLostException>(() => request);
        await WaitUntilAsync(() => client.State == ConnectionState.Established && component.State == ConnectionState.Established, "both reconnect");
        Assert.Contains(lifecycle, e => e.Kind == LifecycleKind.Destroyed);
        Assert.Equal(0, client.OutstandingIqs);

        // And the path through the server works again, end to end.
        using var ping = component.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", (_, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.DiscoInfo + "query"))));
        await client.SendIqAsync(component.ComponentJid, IqType.Get, new XElement(Ns.DiscoInfo + "query"),
            cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task APoolSpreadsRequestsOverUniqueResourcesAndFailsTheEventReceiverOver()
    {
        var template = await AccountAsync();
        var pool = Own(new XmppClientPool(template, new XmppPoolOptions { Size = 3, InstanceName = "it" }));
        var changes = new ConcurrentQueue<EventReceiverChanged>();
        pool.ReceiverChanged += (_, e) => changes.Enqueue(e);
        await pool.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(PoolHealth.Healthy, pool.Health);
        Assert.Equal(["gw-it-0", "gw-it-1", "gw-it-2"], pool.Connections.Select(c => c.LocalJid!.Resource).Order());
        var replies = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ =>
            pool.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: TestContext.Current.CancellationToken)));
        Assert.Equal(300, replies.Length);
        Assert.All(replies, r => Assert.Equal("result", (string?)r.Attribute("type")));

        var receiver = (XmppClient)pool.Receiver!;
        receiver.AbortConnection("killed by the test");
        await WaitUntilAsync(() => changes.Any(c => c.Receiver is not null && c.Receiver != receiver), "another connection receives events");
        Assert.NotEqual(receiver, pool.Receiver);
    }
}
