using System.Xml.Linq;
using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.PubSub;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>
/// The Auth and PubSub components connected to the real Prosody of <see cref="ProsodyFixture"/> as XEP-0114 components,
/// with the test users and a clock of the test's choosing (the streams themselves run on the real clock), plus real c2s
/// clients on fresh accounts.
/// </summary>
internal sealed class ServiceOnProsody : IAsyncDisposable
{
    private readonly ProsodyFixture _prosody;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<IDisposable> _attachments = [];

    private ServiceOnProsody(ProsodyFixture prosody, TimeProvider time)
    {
        _prosody = prosody;
        Time = time;
        Options = TestUsers.Options(prosody.Domain);
        Options.ComponentSecret = prosody.ComponentSecret;
        Options.XmppHost = prosody.Host;
        Options.ComponentPort = prosody.ComponentPort;
        Authorizations = new AuthorizationStore(time);
        var users = TestUsers.Directory();
        Auth = new AuthComponent(users, Authorizations, Options, time);
        PubSub = new ActiveCallsPubSubComponent(new ActiveCallsNodeStore(users), Authorizations, Options, time);
        Publisher = new ActiveCallsPublisher(PubSub);
        AuthStream = Stream(Options.AuthJid);
        PubSubStream = Stream(Options.PubSubJid);
        PubSubStream.Lifecycle += (_, e) =>
        {
            if (e.Kind == LifecycleKind.Established) Interlocked.Increment(ref _pubSubSessions);
        };
    }

    private int _pubSubSessions;

    public TimeProvider Time { get; }
    public ActiveCallsServiceOptions Options { get; }
    public AuthorizationStore Authorizations { get; }
    public AuthComponent Auth { get; }
    public ActiveCallsPubSubComponent PubSub { get; }
    public ActiveCallsPublisher Publisher { get; }
    public XmppComponent AuthStream { get; }
    public XmppComponent PubSubStream { get; }

    /// <summary>How many times the PubSub component's stream has been established.</summary>
    public int PubSubSessions => Volatile.Read(ref _pubSubSessions);

    public static async Task<ServiceOnProsody> StartAsync(ProsodyFixture prosody, TimeProvider? time = null)
    {
        var service = new ServiceOnProsody(prosody, time ?? TimeProvider.System);
        service._attachments.Add(service.Auth.Attach(service.AuthStream));
        service._attachments.Add(service.PubSub.Attach(service.PubSubStream));
        await Task.WhenAll(service.AuthStream.StartAsync(TestContext.Current.CancellationToken), service.PubSubStream.StartAsync(TestContext.Current.CancellationToken));
        return service;
    }

    /// <summary>A client logged in on a fresh account of the fixture's domain (with initial presence, so PubSub messages reach it).</summary>
    public async Task<XmppClient> ClientAsync(string resource = "psi")
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..10];
        await _prosody.RegisterAsync(user, "client-password-1");
        var client = new XmppClient(new XmppClientOptions
        {
            Jid = new Jid(user, _prosody.Domain),
            Password = "client-password-1",
            Resource = resource,
            Host = _prosody.Host,
            Port = _prosody.C2sPort,
            Tls = { TrustedCertificatePath = _prosody.CaCertificatePath },
        });
        _owned.Add(client);
        await client.StartAsync(TestContext.Current.CancellationToken);
        return client;
    }

    /// <summary>Every message the client receives from here on.</summary>
    public static StanzaSubscription Messages(XmppClient client) => client.Subscribe(s => s.Name.LocalName == "message");

    /// <summary>The next message, or a timeout failure.</summary>
    public static async Task<XElement> NextAsync(StanzaSubscription messages, TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(10));
        try { return await messages.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("No message arrived in time.");
        }
    }

    public async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            if (condition()) return;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("Timed out waiting until " + what);
    }

    private XmppComponent Stream(Jid jid)
    {
        var stream = new XmppComponent(new XmppComponentOptions
        {
            ComponentJid = jid,
            Secret = _prosody.ComponentSecret,
            Host = _prosody.Host,
            Port = _prosody.ComponentPort,
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        });
        _owned.Add(stream);
        return stream;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var attachment in _attachments) attachment.Dispose();
        foreach (var owned in _owned) await owned.DisposeAsync();
        PubSub.Dispose();
        Authorizations.Dispose();
    }
}
