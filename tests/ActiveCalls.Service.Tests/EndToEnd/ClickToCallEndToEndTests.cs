using System.Globalization;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.Tests.Support;
using static ActiveCalls.Service.Tests.Support.EndToEndClients;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing;
using Gateway.Testing.Ejabberd;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Tests.EndToEnd;

/// <summary>
/// The whole reference service as a client sees it through a real Prosody (<see cref="ClickToCallEndToEndSpecification"/>).
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class ClickToCallEndToEndTests(ProsodyFixture prosody) : ClickToCallEndToEndSpecification(prosody);

/// <summary>The same specification with the three components on ejabberd 23.01.</summary>
[Collection(EjabberdCollection.Name)]
public sealed class ClickToCallOnEjabberdEndToEndTests(EjabberdFixture ejabberd) : ClickToCallEndToEndSpecification(ejabberd);

/// <summary>
/// The whole reference service as a client sees it: a real XMPP client talks to the three components through a real
/// XMPP server, and the SIP engine calls real sipp phones. Nothing here is scripted but the phones' behaviour.
/// </summary>
public abstract class ClickToCallEndToEndSpecification(IXmppServerFixture server) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private IHost? _host;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync(CancellationToken.None);
            _host.Dispose();
        }
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
    }

    private Task<(XmppClient Client, AdHocCommandClient Commands, PubSubEventReader Events)> AuthorisedSubscriberAsync() =>
        EndToEndClients.AuthorisedSubscriberAsync(server, _owned);

    private async Task<SippPhone> PhoneAsync(string scenario, string user)
    {
        var phone = await SippPhone.StartAsync(scenario, user);
        _owned.Add(phone);
        return phone;
    }

    /// <summary>Starts the service as Program.cs does, its SIP engine on loopback with the phones bound to demo addresses.</summary>
    private async Task StartServiceAsync(params (string Address, SippPhone Phone)[] bindings)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = server.Domain,
            ["ActiveCalls:XmppHost"] = server.Host,
            ["ActiveCalls:ComponentPort"] = server.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = server.ComponentSecret,
            ["ActiveCalls:UsersFile"] = TestUsers.DevUsersFile(),
            ["ActiveCalls:Storage:DatabasePath"] = TestDatabase.NewPath(),
            ["Sip:BindAddress"] = "127.0.0.1",
            ["Sip:Port"] = "0",
            ["Sip:LocalDomains:0"] = server.Domain,
            ["Sip:RingTimeout"] = "00:00:10",
        };
        foreach (var (address, phone) in bindings)
            settings[$"Sip:Contacts:{address}"] = $"127.0.0.1:{phone.Port}";
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddActiveCallsService();
        _host = builder.Build();
        await _host.StartAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task CreateRingsAndConnectsTwoSippPhonesAndTerminateHangsUpBothWithEveryEventInOnSipsOrder()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        await StartServiceAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var domain = server.Domain;
        // Authorised for alice's addresses (auth-for-all: alice, bob, carol), subscribed to the JID's collection via "/".
        var (client, commands, events) = await AuthorisedSubscriberAsync();
        using var _ = events;
        var subscriptions = await new PubSubClient(client).GetSubscriptionsAsync(new Jid(null, "pubsub.active-calls." + domain), "/me/" + client.LocalJid!.Bare, ct);
        Assert.Single(subscriptions);

        var created = await ExecuteAsync(commands, new Jid(null, "commands.active-calls." + domain), "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Build());
        var callSetupId = created.Form!.GetValue("call-setup-id");
        Assert.Matches("^[a-z0-9]{8}$", callSetupId);

        var seen = await CollectAsync(events, [], s => s.Any(x => x.Kind == "retract"));
        Assert.Equal([
            "requested /activecalls.test/alice",   // the setup call rings alice
            "confirmed /activecalls.test/alice",   // alice answers
            "created /activecalls.test/alice",     // alice -> bob
            "requested /activecalls.test/bob",     // bob rings
            "confirmed /activecalls.test/alice",
            "confirmed /activecalls.test/bob",     // bob answers: connected
            "retract /activecalls.test/alice",     // the setup leg goes
        ], seen.Select(s => s.ToString()));
        Assert.All(seen.Where(s => s.Item is not null), s => Assert.Equal(callSetupId, s.Item!.CallSetupId));
        Assert.Equal("sip:call-setup@activecalls.test", seen[0].Item!.FromUri);
        Assert.Equal(seen[0].ItemId, seen[6].ItemId);

        // Hang up with the identifiers the connected leg published, as a client would.
        var connected = seen[4].Item!;
        await ExecuteAsync(commands, new Jid(null, "commands.active-calls." + domain), "terminate", DataForm.Submit()
            .Add("call-id", connected.CallId).Add("from-tag", connected.FromTag).Add("to-tag", connected.ToTag).Build());

        seen = await CollectAsync(events, seen, s => s.Count(x => x.Kind == "retract") == 3);
        Assert.Equal(["retract /activecalls.test/alice", "retract /activecalls.test/bob"], seen[7..].Select(s => s.ToString()).Order());
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        var engine = _host!.Services.GetRequiredService<ThirdPartyCallControlEngine>();
        Assert.Equal(0, engine.ActiveCallCount);
    }

    [Fact]
    public async Task ABusyCalleeEndsInRetractsOfEveryLegAndNothingStaysPublished()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("busy", "bob");
        await StartServiceAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var (client, commands, events) = await AuthorisedSubscriberAsync();
        using var _ = events;
        var pubSub = new Jid(null, "pubsub.active-calls." + server.Domain);

        await ExecuteAsync(commands, new Jid(null, "commands.active-calls." + server.Domain), "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "Busy0001").Build());

        var seen = await CollectAsync(events, [], s => s.Count(x => x.Kind == "publish") == 4 && s.Count(x => x.Kind == "retract") == 3);
        Assert.Equal(seen.Where(s => s.Kind == "publish").Select(s => s.ItemId).ToHashSet(), seen.Where(s => s.Kind == "retract").Select(s => s.ItemId).ToHashSet());
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        var items = await new PubSubClient(client).GetItemsAsync(pubSub, "/activecalls.test/alice", cancellationToken: ct);
        Assert.Empty(items);
    }

    [Fact]
    public async Task AConnectedCallSurvivesAServerRestartAndCanStillBeHungUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        await StartServiceAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var (client, commands, events) = await AuthorisedSubscriberAsync();
        using var _ = events;
        var commandsJid = new Jid(null, "commands.active-calls." + server.Domain);
        await ExecuteAsync(commands, commandsJid, "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Build());
        var seen = await CollectAsync(events, [], s => s.Any(x => x.Kind == "retract"));
        var connected = seen[4].Item!;

        await server.RestartAsync();

        // The client's session is gone with the server; it reconnects by itself. The service's components reconnect too,
        // and the call, the grant and the published legs live in the service, not in the XMPP sessions.
        for (var i = 0; i < 300 && client.State != ConnectionState.Established; i++) await Task.Delay(50, ct);
        Assert.Equal(ConnectionState.Established, client.State);
        var pubSub = new Jid(null, "pubsub.active-calls." + server.Domain);
        IReadOnlyList<PubSubItem>? items = null;
        for (var attempt = 0; items is null; attempt++)
        {
            try { items = await new PubSubClient(client).GetItemsAsync(pubSub, "/activecalls.test/alice", cancellationToken: ct); }
            catch (XmppStanzaErrorException e) when (IsComponentNotConnected(e.Error) && attempt < 100)
            {
                await Task.Delay(100, ct);
            }
        }
        Assert.Contains(items, i => ActiveCallItem.TryParse(i, out var call) && call!.CallId == connected.CallId && call.DialogState == ActiveCallDialogState.Confirmed);

        await ExecuteAsync(commands, commandsJid, "terminate", DataForm.Submit()
            .Add("call-id", connected.CallId).Add("from-tag", connected.FromTag).Add("to-tag", connected.ToTag).Build());
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
    }

    [Fact]
    public async Task AOneMegabyteStanzaIsRefusedWithoutHarmToOtherClients()
    {
        var bob = await PhoneAsync("busy", "bob");
        await StartServiceAsync(("bob@activecalls.test", bob));
        var hostile = await EndToEndClients.ClientAsync(server, _owned);
        var lifecycle = new System.Collections.Concurrent.ConcurrentQueue<XmppLifecycleEvent>();
        hostile.Lifecycle += (_, e) => lifecycle.Enqueue(e);
        var commandsJid = new Jid(null, "commands.active-calls." + server.Domain);
        await ExecuteAsync(new AdHocCommandClient(hostile), commandsJid, "create",
            DataForm.Submit().Add("from", "sip:bob@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "Warmup01").Build());

        var huge = DataForm.Submit().Add("from", "sip:" + new string('a', 1 << 20) + "@activecalls.test").Add("to", "sip:bob@activecalls.test").Build();
        await Assert.ThrowsAnyAsync<XmppException>(() => new AdHocCommandClient(hostile).ExecuteAsync(commandsJid, "create", huge,
            TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var dropped = lifecycle.FirstOrDefault(e => e.Kind is LifecycleKind.Suspended or LifecycleKind.Destroyed);
        Assert.NotNull(dropped);
        Assert.Equal("policy-violation", Assert.IsType<XmppStreamErrorException>(dropped.Reason).Condition);

        // Another client is served as before, and so is the offender once it has reconnected.
        var other = await EndToEndClients.ClientAsync(server, _owned);
        var result = await ExecuteAsync(new AdHocCommandClient(other), commandsJid, "create",
            DataForm.Submit().Add("from", "sip:bob@activecalls.test").Add("to", "sip:bob@activecalls.test").Build());
        Assert.Equal(CommandStatus.Completed, result.Status);
        for (var i = 0; i < 200 && hostile.State != ConnectionState.Established; i++) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal(ConnectionState.Established, hostile.State);
    }

    [Fact]
    public async Task CancelOverXmppStopsACallerThatIsStillRinging()
    {
        var alice = await PhoneAsync("ring-forever", "alice");
        var bob = await PhoneAsync("answer", "bob");
        await StartServiceAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var (_, commands, events) = await AuthorisedSubscriberAsync();
        using var _ = events;
        var commandsJid = new Jid(null, "commands.active-calls." + server.Domain);
        await ExecuteAsync(commands, commandsJid, "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Build());
        var seen = await CollectAsync(events, [], s => s.Count > 0);
        var ringing = seen[0].Item!;
        Assert.Equal(ActiveCallDialogState.Requested, ringing.DialogState);
        await Task.Delay(300, TestContext.Current.CancellationToken); // a CANCEL waits for the first provisional response anyway

        // What OnSIP's clients do for a leg that is not confirmed: cancel(call-id, from-tag).
        await ExecuteAsync(commands, commandsJid, "cancel",
            DataForm.Submit().Add("call-id", ringing.CallId).Add("from-tag", ringing.FromTag).Build());

        seen = await CollectAsync(events, seen, s => s.Any(x => x.Kind == "retract"));
        Assert.Equal(["requested /activecalls.test/alice", "retract /activecalls.test/alice"], seen.Select(x => x.ToString()));
        await alice.AssertSucceededAsync();
        Assert.Equal(["> INVITE", "< 180", "> CANCEL", "< 200", "< 487", "> ACK"], alice.Flow());
        Assert.Empty(bob.Messages());

        // Cancelling again is an execution error in the seed's shape, not a crash.
        var again = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => commands.ExecuteAsync(commandsJid, "cancel",
            DataForm.Submit().Add("call-id", ringing.CallId).Add("from-tag", ringing.FromTag).Build(), ct: TestContext.Current.CancellationToken));
        Assert.Equal(("bad-request", "bad-payload"), (again.Error.Condition, again.Error.ApplicationConditionName));
        Assert.StartsWith("Execution Errors; ", again.Error.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TransferOverXmppMovesTheCalleeToTheTargetAndHangsUpTheCaller()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var carol = await PhoneAsync("answer", "carol");
        await StartServiceAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob), ("carol@activecalls.test", carol));
        var (_, commands, events) = await AuthorisedSubscriberAsync();
        using var _ = events;
        var commandsJid = new Jid(null, "commands.active-calls." + server.Domain);
        await ExecuteAsync(commands, commandsJid, "create",
            DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Build());
        var seen = await CollectAsync(events, [], s => s.Any(x => x.Kind == "retract"));
        var connected = seen[4].Item!;

        await ExecuteAsync(commands, commandsJid, "transfer", DataForm.Submit()
            .Add("call-id", connected.CallId).Add("from-tag", connected.FromTag).Add("to-tag", connected.ToTag)
            .Add("endpoint", "callee", FormFieldType.ListSingle).Add("target-uri", "sip:carol@activecalls.test").Build());

        await alice.AssertSucceededAsync(); // the caller is hung up
        seen = await CollectAsync(events, seen, s => s.Any(x => x.Kind == "publish" && x.Node == "/activecalls.test/carol" && x.Item!.DialogState == ActiveCallDialogState.Confirmed));
        Assert.Contains("requested /activecalls.test/carol", seen[7..].Select(x => x.ToString()));
        Assert.Contains("retract /activecalls.test/alice", seen[7..].Select(x => x.ToString()));
        Assert.Equal(["> INVITE", "< 180", "< 200", "> ACK"], carol.Flow().Take(4));
        Assert.Equal("> INVITE", bob.Flow()[4]); // bob is re-INVITEd toward carol

        var moved = seen.Last(x => x.Node == "/activecalls.test/carol").Item!;
        await ExecuteAsync(commands, commandsJid, "terminate", DataForm.Submit()
            .Add("call-id", moved.CallId).Add("from-tag", moved.FromTag).Add("to-tag", moved.ToTag).Build());
        await bob.AssertSucceededAsync();
        await carol.AssertSucceededAsync();
    }
}
