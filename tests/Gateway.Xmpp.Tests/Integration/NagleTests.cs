using System.Diagnostics;
using System.Xml.Linq;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Tests.Integration;

/// <summary>
/// Commands through a pool against a real Prosody that runs Nagle's algorithm on its client sockets (its default), while
/// notifications flow to the pool's event connection. Every command makes the component notify the event connection
/// first and answer only once that notification has been read: the server then writes the IQ result while the
/// notification's segment still waits for our delayed ACK (40 ms on Linux). Had the result gone to the event connection,
/// Nagle would hold it back until that ACK.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class NagleTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private const int Commands = 200;

    private XmppComponent? _component;
    private XmppClientPool? _pool;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_pool is not null) await _pool.DisposeAsync();
        if (_component is not null) await _component.DisposeAsync();
    }

    [Fact]
    public async Task ACommandIsNotHeldBackByANotificationTheServerJustSentToTheEventConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        // The premise: the server under test leaves Nagle on (deploy/prosody/start.sh --nagle on, the default).
        Assert.DoesNotContain("nagle = false", await File.ReadAllTextAsync(Path.Combine(prosody.RunDirectory, "prosody.cfg.lua"), ct));
        var pool = await StartPoolAsync(ct);
        var receiver = pool.Receiver!;
        using var notifications = receiver.Subscribe(s => s.Name.LocalName == "message" && (string?)s.Attribute("from") == prosody.ActiveCallsComponent);
        await StartNotifyingComponentAsync(receiver.LocalJid!, notifications, ct);

        // What the gateway does: every command through the pool, one at a time.
        var milliseconds = new List<double>(Commands);
        for (var i = 0; i < Commands; i++)
        {
            var watch = Stopwatch.StartNew();
            await pool.SendIqAsync(_component!.ComponentJid, IqType.Set, Command(), cancellationToken: ct);
            milliseconds.Add(watch.Elapsed.TotalMilliseconds);
        }

        // On the median of many requests, not on one: a loaded machine delays some requests, and delayed ACKs come at
        // 40 ms or later, so a median under 20 ms is out of reach of a command that waited for one (measured here:
        // a few ms, against over 40 ms when the same commands go out on the event connection itself).
        var median = milliseconds.Order().ElementAt(Commands / 2);
        TestContext.Current.TestOutputHelper?.WriteLine($"median {median:F2} ms over {Commands} commands");
        Assert.True(median < 20, $"The median command took {median:F1} ms: results wait for the server's Nagle.");
    }

    private static XElement Command() => new(Ns.Commands + "command", new XAttribute("node", "create"), new XAttribute("action", "execute"));

    private async Task<XmppClientPool> StartPoolAsync(CancellationToken ct)
    {
        var user = "n" + Guid.NewGuid().ToString("N")[..10];
        await prosody.RegisterAsync(user, "nagle-password-1");
        _pool = new XmppClientPool(new XmppClientOptions
        {
            Jid = new Jid(user, prosody.Domain),
            Password = "nagle-password-1",
            Host = prosody.Host,
            Port = prosody.C2sPort,
            Tls = { TrustedCertificatePath = prosody.CaCertificatePath },
        }, new XmppPoolOptions { Size = 2, InstanceName = "nagle" });
        await _pool.StartAsync(ct);
        return _pool;
    }

    /// <summary>An Active-Calls command component that, like the reference service, notifies the subscriber about each
    /// command, and answers the command once the subscriber has read the notification.</summary>
    private async Task StartNotifyingComponentAsync(Jid subscriber, StanzaSubscription notifications, CancellationToken ct)
    {
        _component = new XmppComponent(new XmppComponentOptions
        {
            ComponentJid = Jid.Parse(prosody.ActiveCallsComponent),
            Secret = prosody.ComponentSecret,
            Host = prosody.Host,
            Port = prosody.ComponentPort,
        });
        var sequence = 0;
        _component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", async (request, token) =>
        {
            var id = "item-" + Interlocked.Increment(ref sequence);
            await _component.SendAsync(new XElement("message", new XAttribute("to", subscriber.ToString()),
                new XElement(Ns.PubSubEvent + "event", new XElement(Ns.PubSubEvent + "items", new XAttribute("node", "/me/test"),
                    new XElement(Ns.PubSubEvent + "item", new XAttribute("id", id))))), token);
            var read = await notifications.Reader.ReadAsync(token);
            Assert.Contains(id, read.ToString(), StringComparison.Ordinal);
            return IqResponse.Result(new XElement(Ns.Commands + "command", new XAttribute("node", "create"), new XAttribute("status", "completed")));
        });
        await _component.StartAsync(ct);
    }
}
