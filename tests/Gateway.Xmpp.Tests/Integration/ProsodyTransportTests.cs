using System.Collections.Concurrent;
using System.Xml.Linq;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;
using Gateway.Xmpp.PubSub;

namespace Gateway.Xmpp.Tests.Integration;

/// <summary>
/// Each transport against Prosody's own listeners: TCP with STARTTLS (c2s), XMPP over WebSocket (RFC 7395, mod_websocket,
/// <see cref="ProsodyFixture.WebSocketEndpoint"/>) and BOSH (XEP-0206, mod_bosh, <see cref="ProsodyFixture.BoshEndpoint"/>),
/// both behind Prosody's HTTPS. The same client, chosen by its endpoint setting alone: login with SCRAM, an ad-hoc
/// command round trip to a component, a PubSub event, a killed connection recovered (XEP-0198 resumption on TCP and
/// WebSocket; a new session on BOSH, whose lost requests are re-sent within the session, see BoshProtocolTests), a
/// restarted server reconnected to, and the pool.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class ProsodyTransportTests(ProsodyFixture prosody) : IAsyncLifetime
{
    public static TheoryData<string> Transports => ["tcp", "websocket", "bosh"];

    /// <summary>ws:// and http:// to Prosody's plain HTTP port, as behind a TLS-terminating proxy.</summary>
    public static TheoryData<string> PlainTransports => ["websocket-plain", "bosh-plain"];

    private readonly List<IAsyncDisposable> _owned = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
    }

    /// <summary>A fresh account, reached over <paramref name="transport"/>. Host and Port are left at their defaults
    /// (localhost:5222, where nothing listens) for the WebSocket, so only the endpoint setting can make it connect.</summary>
    private async Task<XmppClientOptions> AccountAsync(string transport, string? domain = null)
    {
        var user = "t" + Guid.NewGuid().ToString("N")[..10];
        domain ??= prosody.Domain;
        await prosody.RegisterAsync(user, "pässword-2", domain);
        var options = new XmppClientOptions
        {
            Jid = new Jid(user, domain),
            Password = "pässword-2",
            Resource = "transport",
            Tls = { TrustedCertificatePath = prosody.CaCertificatePath },
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        };
        switch (transport)
        {
            case "tcp":
                options.Endpoint = $"xmpp://{prosody.Host}:{prosody.C2sPort}";
                break;
            case "websocket":
                options.Endpoint = prosody.WebSocketEndpoint;
                break;
            case "bosh":
                options.Endpoint = prosody.BoshEndpoint;
                break;
            case "websocket-plain":
                options.Endpoint = prosody.PlainWebSocketEndpoint;
                options.RequireTls = false;
                break;
            case "bosh-plain":
                options.Endpoint = prosody.PlainBoshEndpoint;
                options.RequireTls = false;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(transport), transport, null);
        }
        return options;
    }

    private XmppComponent Component(string jid) => Own(new XmppComponent(new XmppComponentOptions
    {
        ComponentJid = Jid.Parse(jid),
        Secret = prosody.ComponentSecret,
        Host = prosody.Host,
        Port = prosody.ComponentPort,
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromSeconds(1),
    }));

    private T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 1200; i++)
        {
            if (condition()) return;
            await Task.Delay(50, Ct);
        }
        throw new TimeoutException("Timed out waiting until " + what);
    }

    /// <summary>The Active-Calls command component answering <c>create</c> with the sender it saw.</summary>
    private async Task<XmppComponent> CommandComponentAsync()
    {
        var component = Component(prosody.ActiveCallsComponent);
        component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", (request, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.Commands + "command",
                new XAttribute("node", (string)request.Payload.Attribute("node")!), new XAttribute("status", "completed"),
                new XAttribute("sessionid", request.From!.ToString())))));
        await component.StartAsync(Ct);
        return component;
    }

    [Theory]
    [InlineData("tcp", false, "SCRAM-SHA-256")]
    [InlineData("tcp", true, "SCRAM-SHA-1")]
    [InlineData("websocket", false, "SCRAM-SHA-256")]
    [InlineData("websocket", true, "SCRAM-SHA-1")]
    [InlineData("bosh", false, "SCRAM-SHA-256")]
    [InlineData("bosh", true, "SCRAM-SHA-1")]
    public async Task LogsInWithScram(string transport, bool sha1Host, string expectedMechanism)
    {
        var options = await AccountAsync(transport, sha1Host ? prosody.Sha1Domain : null);
        var client = Own(new XmppClient(options));
        await client.StartAsync(Ct);

        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal(expectedMechanism, client.AuthenticationMechanism);
        Assert.Equal(options.Jid!.WithResource("transport"), client.LocalJid);
        // XEP-0198 on TCP and WebSocket; BOSH keeps its session by itself (rid and sid).
        Assert.Equal(transport != "bosh", client.StreamManagementStatistics is not null);
    }

    [Theory]
    [MemberData(nameof(PlainTransports))]
    public async Task APlainEndpointCarriesLoginAndCommandsOnlyOnceTlsIsNotRequired(string transport)
    {
        await CommandComponentAsync();
        var options = await AccountAsync(transport);
        var client = Own(new XmppClient(options));
        await client.StartAsync(Ct);

        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal("SCRAM-SHA-256", client.AuthenticationMechanism);
        var result = await new AdHocCommandClient(client).ExecuteAsync(Jid.Parse(prosody.ActiveCallsComponent), "create", ct: Ct);
        Assert.Equal(CommandStatus.Completed, result.Status);
    }

    [Theory]
    [MemberData(nameof(PlainTransports))]
    public async Task APlainEndpointIsRefusedWhileTlsIsRequired(string transport)
    {
        var options = await AccountAsync(transport);
        options.RequireTls = true;
        options.MaxInitialAttempts = 1;
        var client = Own(new XmppClient(options));

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => client.StartAsync(Ct));
        Assert.Equal("encryption-required", error.Condition);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AWrongPasswordIsRefused(string transport)
    {
        var options = await AccountAsync(transport);
        options.Password = "wrong";
        var client = Own(new XmppClient(options));

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => client.StartAsync(Ct));
        Assert.Equal("not-authorized", error.Condition);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AnUntrustedServerCertificateIsRefused(string transport)
    {
        var options = await AccountAsync(transport);
        options.Tls = new();
        options.MaxInitialAttempts = 1;
        var client = Own(new XmppClient(options));

        var error = await Assert.ThrowsAsync<XmppAuthenticationException>(() => client.StartAsync(Ct));
        Assert.Equal("tls-certificate-rejected", error.Condition);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AnAdHocCommandRoundTripsThroughTheComponent(string transport)
    {
        await CommandComponentAsync();
        var client = Own(new XmppClient(await AccountAsync(transport)));
        await client.StartAsync(Ct);

        var result = await new AdHocCommandClient(client).ExecuteAsync(Jid.Parse(prosody.ActiveCallsComponent), "create", ct: Ct);

        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal(client.LocalJid!.ToString(), result.SessionId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task APubSubEventFromTheServiceIsDelivered(string transport)
    {
        var service = Component(prosody.PubSubComponent);
        await service.StartAsync(Ct);
        var client = Own(new XmppClient(await AccountAsync(transport)));
        await client.StartAsync(Ct);
        using var events = new PubSubEventReader(client, service.ComponentJid);

        await service.SendAsync(XElement.Parse($"""
            <message xmlns="jabber:component:accept" to="{client.LocalJid}">
              <event xmlns="http://jabber.org/protocol/pubsub#event">
                <items node="/me/{client.LocalJid!.Bare}">
                  <item id="call-1"><active-call xmlns="onsip:active-calls"><dialog-state>requested</dialog-state></active-call></item>
                </items>
              </event>
            </message>
            """), Ct);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await using var reader = events.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await reader.MoveNextAsync());
        var published = Assert.IsType<PubSubEvent.ItemsPublished>(reader.Current);
        Assert.Equal("call-1", Assert.Single(published.Items).Id);
        Assert.Equal("requested", published.Items[0].Payload?.Value);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("websocket")]
    public async Task AKilledConnectionIsResumedAndACommandPendingAcrossItIsAnswered(string transport)
    {
        var component = Component(prosody.ActiveCallsComponent);
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<IqResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", (_, _) =>
        {
            received.TrySetResult();
            return release.Task;
        });
        await component.StartAsync(Ct);
        var client = Own(new XmppClient(await AccountAsync(transport)));
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        await client.StartAsync(Ct);
        var jid = client.LocalJid;

        var command = new AdHocCommandClient(client).ExecuteAsync(component.ComponentJid, "create", ct: Ct);
        await received.Task.WaitAsync(Ct);
        client.AbortConnection("killed by the test");
        await WaitUntilAsync(() => lifecycle.Contains(LifecycleKind.Resumed), "the stream is resumed");
        release.SetResult(IqResponse.Result(new XElement(Ns.Commands + "command", new XAttribute("node", "create"), new XAttribute("status", "completed"))));

        Assert.Equal(CommandStatus.Completed, (await command).Status);
        Assert.DoesNotContain(LifecycleKind.Destroyed, lifecycle);
        Assert.Equal(jid, client.LocalJid);
    }

    [Fact]
    public async Task AKilledBoshSessionIsReplacedByANewOneAndCommandsWorkAgain()
    {
        await CommandComponentAsync();
        var client = Own(new XmppClient(await AccountAsync("bosh")));
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        await client.StartAsync(Ct);

        // Every request of the session is dropped at once: the session is gone for us, and a new one is made.
        client.AbortConnection("killed by the test");
        await WaitUntilAsync(() => lifecycle.Contains(LifecycleKind.Destroyed) && client.State == ConnectionState.Established, "a new session is up");

        var result = await new AdHocCommandClient(client).ExecuteAsync(Jid.Parse(prosody.ActiveCallsComponent), "create", ct: Ct);
        Assert.Equal(CommandStatus.Completed, result.Status);
        Assert.Equal(client.LocalJid!.ToString(), result.SessionId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AfterAServerRestartTheClientReconnectsAndCommandsWorkAgain(string transport)
    {
        var component = await CommandComponentAsync();
        var client = Own(new XmppClient(await AccountAsync(transport)));
        var lifecycle = new ConcurrentQueue<LifecycleKind>();
        client.Lifecycle += (_, e) => lifecycle.Enqueue(e.Kind);
        await client.StartAsync(Ct);

        await prosody.RestartAsync();

        // A restarted server has no session to resume: the stream is destroyed and a new one established.
        await WaitUntilAsync(() => lifecycle.Contains(LifecycleKind.Destroyed) && client.State == ConnectionState.Established
            && component.State == ConnectionState.Established, "the client and the component reconnect");
        var result = await new AdHocCommandClient(client).ExecuteAsync(Jid.Parse(prosody.ActiveCallsComponent), "create", timeout: TimeSpan.FromSeconds(60), ct: Ct);
        Assert.Equal(CommandStatus.Completed, result.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task APoolRunsOverTheTransport(string transport)
    {
        var pool = Own(new XmppClientPool(await AccountAsync(transport), new XmppPoolOptions { Size = 2, InstanceName = "tr" }));
        await pool.StartAsync(Ct);

        Assert.Equal(PoolHealth.Healthy, pool.Health);
        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            pool.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: Ct)));
        Assert.All(replies, r => Assert.Equal("result", (string?)r.Attribute("type")));
    }
}
