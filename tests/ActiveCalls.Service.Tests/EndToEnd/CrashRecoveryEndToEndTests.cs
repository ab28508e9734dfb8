using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;
using static ActiveCalls.Service.Tests.Support.EndToEndClients;

namespace ActiveCalls.Service.Tests.EndToEnd;

/// <summary>
/// The service killed as <c>kill -9</c> would (SIGKILL to a child process running Program.cs) with a connected call, then
/// started again on the same database and SIP port: it ends the call on both phones from the persisted dialogs and retracts
/// the call's items, which the subscriber of before the crash (the gateway, in production) receives on its persisted
/// subscription.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class CrashRecoveryEndToEndTests(ProsodyFixture prosody) : RestartTestBase(prosody)
{
    [Fact]
    public async Task AfterAKillDashNineTheRestartedServiceHangsUpBothPhonesAndRetractsTheCallsItems()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var settings = Settings(FreeUdpPort(), ("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var service = await StartAsync(settings);
        var (client, commands, events) = await AuthorisedSubscriberAsync(Prosody, Owned);
        using var _ = events;
        await ExecuteAsync(commands, new Jid(null, "commands.active-calls." + Prosody.Domain), "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "Crash001").Build());
        var seen = await CollectAsync(events, [], s => s.Any(x => x.Kind == "retract")); // connected: the setup leg goes
        Assert.Equal(7, seen.Count);
        var published = seen.Where(s => s.Kind == "publish").Select(s => s.ItemId).Distinct().Except([seen[^1].ItemId]).Order().ToList();
        Assert.Equal(2, published.Count); // alice's caller-callee leg and bob's leg

        await service.KillAsync();
        await Task.Delay(500, ct);
        Assert.False(alice.HasExited);
        Assert.False(bob.HasExited);
        Assert.DoesNotContain("> BYE", alice.Flow()); // killed, not stopped: nobody hung up
        Assert.DoesNotContain("> BYE", bob.Flow());

        await StartAsync(settings); // same database, same SIP port

        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("< 200", alice.Flow()[^1]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        Assert.Equal("< 200", bob.Flow()[^1]);

        seen = await CollectAsync(events, seen, s => s.Count(x => x.Kind == "retract") == 3);
        Assert.Equal(published, seen[7..].Where(s => s.Kind == "retract").Select(s => s.ItemId).Order());
        var items = await new PubSubClient(client).GetItemsAsync(new Jid(null, "pubsub.active-calls." + Prosody.Domain), "/me/" + client.LocalJid!.Bare, cancellationToken: ct);
        Assert.Empty(items);
    }

    [Fact]
    public async Task ACallKilledWhileTheCalleeRingsEndsWithAByeToTheCallerAndACancelToTheCallee()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("ring-forever", "bob");
        var settings = Settings(FreeUdpPort(), ("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var service = await StartAsync(settings);
        var (_, commands, events) = await AuthorisedSubscriberAsync(Prosody, Owned);
        using var _ = events;
        await ExecuteAsync(commands, new Jid(null, "commands.active-calls." + Prosody.Domain), "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "Crash002").Build());
        var seen = await CollectAsync(events, [], s => s.Any(x => x.ToString() == "requested /activecalls.test/bob"));
        var published = seen.Select(s => s.ItemId).Distinct().Order().ToList();
        Assert.Equal(3, published.Count); // the setup leg (alice answered, not ACKed yet), alice -> bob, bob ringing

        await service.KillAsync();
        await StartAsync(settings);

        await alice.AssertSucceededAsync(); // ACKed late (its offer declined), then BYE
        await bob.AssertSucceededAsync();   // CANCEL, 200, 487, ACK
        Assert.Equal(["> ACK", "> BYE", "< 200"], alice.Flow().TakeLast(3));
        Assert.Contains("> CANCEL", bob.Flow());
        Assert.Equal("> ACK", bob.Flow()[^1]);
        seen = await CollectAsync(events, seen, s => s.Count(x => x.Kind == "retract") == 3);
        Assert.Equal(published, seen.Where(s => s.Kind == "retract").Select(s => s.ItemId).Order());
    }

    private async Task<SippPhone> PhoneAsync(string scenario, string user)
    {
        var phone = await SippPhone.StartAsync(scenario, user);
        Owned.Add(phone);
        return phone;
    }

    private async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var service = await ServiceProcess.StartAsync(settings, Database + ".log");
        Owned.Add(service);
        return service;
    }

    private Dictionary<string, string> Settings(int sipPort, params (string Address, SippPhone Phone)[] bindings)
    {
        var settings = new Dictionary<string, string>
        {
            ["ActiveCalls:Domain"] = Prosody.Domain,
            ["ActiveCalls:XmppHost"] = Prosody.Host,
            ["ActiveCalls:ComponentPort"] = Prosody.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = Prosody.ComponentSecret,
            ["ActiveCalls:UsersFile"] = TestUsers.DevUsersFile(),
            ["ActiveCalls:Storage:DatabasePath"] = Database,
            ["Sip:BindAddress"] = "127.0.0.1",
            ["Sip:Port"] = sipPort.ToString(CultureInfo.InvariantCulture),
            ["Sip:LocalDomains:0"] = Prosody.Domain,
            ["Sip:RingTimeout"] = "00:00:10",
        };
        foreach (var (address, phone) in bindings) settings[$"Sip:Contacts:{address}"] = $"127.0.0.1:{phone.Port}";
        return settings;
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
