using ActiveCalls.Service.Commands;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.Tests.Fakes;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Options;

namespace ActiveCalls.Service.Tests.Integration;

/// <summary>
/// The command component as the service runs it: an <see cref="XmppComponent"/> for
/// <c>commands.active-calls.&lt;domain&gt;</c> on the shared Prosody, with <see cref="ActiveCallsCommandComponent"/>
/// attached and a scripted engine behind it; and two c2s clients (two resources of one account) to talk to it.
/// </summary>
public sealed class CommandComponentOnProsody(ProsodyFixture prosody) : IAsyncLifetime
{
    private const string Password = "pässword-1";
    private IDisposable? _attachment;

    public ScriptedCallControlEngine Engine { get; } = new();
    public RecordingLogger<ActiveCallsCommandComponent> Logger { get; } = new();
    public ActiveCallsCommandComponent Commands { get; private set; } = null!;
    public XmppComponent Component { get; private set; } = null!;
    /// <summary>The requester, bound as resource <c>psi</c>.</summary>
    public XmppClient Client { get; private set; } = null!;
    /// <summary>The same account on another resource: another full JID.</summary>
    public XmppClient OtherResource { get; private set; } = null!;
    public Jid CommandsJid => Jid.Parse(prosody.ActiveCallsComponent);

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var options = Options.Create(new ActiveCallsServiceOptions { Domain = prosody.Domain });
        Commands = new ActiveCallsCommandComponent(Engine, options, TimeProvider.System, Logger);
        Component = new XmppComponent(new XmppComponentOptions
        {
            ComponentJid = options.Value.CommandsJid,
            Secret = prosody.ComponentSecret,
            Host = prosody.Host,
            Port = prosody.ComponentPort,
        });
        _attachment = Commands.Attach(Component);
        await Component.StartAsync(timeout.Token);

        var user = "cmd" + Guid.NewGuid().ToString("N")[..10];
        await prosody.RegisterAsync(user, Password);
        Client = new XmppClient(ClientOptions(user, "psi"));
        OtherResource = new XmppClient(ClientOptions(user, "other"));
        await Client.StartAsync(timeout.Token);
        await OtherResource.StartAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Client is not null) await Client.DisposeAsync();
        if (OtherResource is not null) await OtherResource.DisposeAsync();
        _attachment?.Dispose();
        if (Component is not null) await Component.DisposeAsync();
    }

    private XmppClientOptions ClientOptions(string user, string resource) => new()
    {
        Jid = new Jid(user, prosody.Domain),
        Password = Password,
        Resource = resource,
        Host = prosody.Host,
        Port = prosody.C2sPort,
        Tls = { TrustedCertificatePath = prosody.CaCertificatePath },
    };
}
