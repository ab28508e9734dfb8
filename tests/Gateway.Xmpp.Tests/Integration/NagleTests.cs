using System.Collections.Concurrent;
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
/// notification's segment may still wait for the client's ACK, which Linux delays by 40 ms unless told otherwise. A
/// result written to that connection would wait for that ACK.
/// </summary>
/// <remarks>
/// The assertions are on the median of many commands, never on one: a loaded machine delays some of them, and a delayed
/// ACK costs 40 ms or more, so a median under 20 ms is out of reach of commands that wait for one. Measured here on an
/// idle machine: about 3 ms, against 44 ms when results do wait (commands on the event connection without
/// <see cref="Transport.QuickAckNetworkStream"/>).
/// </remarks>
[Collection(ProsodyCollection.Name)]
public sealed class NagleTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private const int Commands = 200;
    private const double FarBelowTheDelayedAck = 20;

    private readonly ConcurrentQueue<Jid> _senders = new();
    private XmppComponent? _component;
    private XmppClientPool? _pool;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_pool is not null) await _pool.DisposeAsync();
        if (_component is not null) await _component.DisposeAsync();
    }

    [Fact]
    public async Task CommandsGoOutOnAnotherConnectionThanTheNotificationsAndAreNotHeldBack()
    {
        var ct = TestContext.Current.CancellationToken;
        await AssertProsodyRunsNagleAsync(ct);
        var pool = await StartPoolAsync(size: 2, ct);
        var receiver = pool.Receiver!.LocalJid!;

        var median = await MedianCommandMillisecondsAsync(ct);

        Assert.Equal(Commands, _senders.Count);
        Assert.DoesNotContain(receiver, _senders);
        Assert.True(median < FarBelowTheDelayedAck, $"The median command took {median:F1} ms: results wait for the server's Nagle.");
    }

    [Fact]
    public async Task EvenOnTheEventConnectionAResultIsNotHeldBackByTheNotificationBeforeIt()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "TCP_QUICKACK is a Linux socket option");
        var ct = TestContext.Current.CancellationToken;
        await AssertProsodyRunsNagleAsync(ct);
        // A pool of one: the only connection carries the notifications and the commands.
        var pool = await StartPoolAsync(size: 1, ct);

        var median = await MedianCommandMillisecondsAsync(ct);

        Assert.All(_senders, sender => Assert.Equal(pool.Receiver!.LocalJid, sender));
        Assert.True(median < FarBelowTheDelayedAck, $"The median command took {median:F1} ms: results wait for the server's Nagle.");
    }

    /// <summary>The premise: the server under test leaves Nagle on (deploy/prosody/start.sh --nagle on, the default).</summary>
    private async Task AssertProsodyRunsNagleAsync(CancellationToken ct) =>
        Assert.Contains("network_settings = { nagle = true }", await File.ReadAllTextAsync(Path.Combine(prosody.RunDirectory, "prosody.cfg.lua"), ct));

    /// <summary>What the gateway does: every command through the pool, one at a time.</summary>
    private async Task<double> MedianCommandMillisecondsAsync(CancellationToken ct)
    {
        var pool = _pool!;
        using var notifications = pool.Receiver!.Subscribe(s => s.Name.LocalName == "message" && (string?)s.Attribute("from") == prosody.ActiveCallsComponent);
        await StartNotifyingComponentAsync(pool.Receiver.LocalJid!, notifications, ct);

        var milliseconds = new double[Commands];
        for (var i = 0; i < Commands; i++)
        {
            var watch = Stopwatch.StartNew();
            await pool.SendIqAsync(_component!.ComponentJid, IqType.Set,
                new XElement(Ns.Commands + "command", new XAttribute("node", "create"), new XAttribute("action", "execute")), cancellationToken: ct);
            milliseconds[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(milliseconds);
        TestContext.Current.TestOutputHelper?.WriteLine($"{Commands} commands: median {milliseconds[Commands / 2]:F2} ms, " +
            $"p90 {milliseconds[Commands * 9 / 10]:F2} ms, p99 {milliseconds[Commands * 99 / 100]:F2} ms, max {milliseconds[^1]:F2} ms");
        return milliseconds[Commands / 2];
    }

    private async Task<XmppClientPool> StartPoolAsync(int size, CancellationToken ct)
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
        }, new XmppPoolOptions { Size = size, InstanceName = "nagle" });
        await _pool.StartAsync(ct);
        return _pool;
    }

    /// <summary>An Active-Calls command component that, like the reference service, notifies the subscriber about each
    /// command, and answers the command once the subscriber has read the notification. It notes who sent each command.</summary>
    private async Task StartNotifyingComponentAsync(Jid subscriber, StanzaSubscription notifications, CancellationToken ct)
    {
        var component = new XmppComponent(new XmppComponentOptions
        {
            ComponentJid = Jid.Parse(prosody.ActiveCallsComponent),
            Secret = prosody.ComponentSecret,
            Host = prosody.Host,
            Port = prosody.ComponentPort,
        });
        _component = component;
        var sequence = 0;
        component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", async (request, token) =>
        {
            _senders.Enqueue(request.From!);
            var id = "item-" + Interlocked.Increment(ref sequence);
            await component.SendAsync(new XElement("message", new XAttribute("to", subscriber.ToString()),
                new XElement(Ns.PubSubEvent + "event", new XElement(Ns.PubSubEvent + "items", new XAttribute("node", "/me/test"),
                    new XElement(Ns.PubSubEvent + "item", new XAttribute("id", id))))), token);
            var read = await notifications.Reader.ReadAsync(token);
            Assert.Contains(id, read.ToString(), StringComparison.Ordinal);
            return IqResponse.Result(new XElement(Ns.Commands + "command", new XAttribute("node", "create"), new XAttribute("status", "completed")));
        });
        await component.StartAsync(ct);
    }
}
