using System.Net;
using ActiveCalls.Sip.CallControl;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing;
using Gateway.Testing.Ejabberd;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The REST API against the whole system (<see cref="EndToEndStack"/>): a real Prosody, the reference Active-Calls service
/// calling real sipp phones, and the gateway with its real XMPP pool and PubSub subscription.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class GatewayEndToEndTests(ProsodyFixture prosody) : GatewayEndToEndSpecification(prosody);

/// <summary>The same specification with ejabberd as the XMPP server: the gateway's c2s pool and the reference service's
/// components on ejabberd 23.01 (the representative subset of the end-to-end suite that runs on both servers).</summary>
[Collection(EjabberdCollection.Name)]
public sealed class GatewayEndToEndOnEjabberdTests(EjabberdFixture ejabberd) : GatewayEndToEndSpecification(ejabberd);

/// <summary>
/// Calls placed, connected, transferred, refused and hung up through the gateway, whichever XMPP server carries them.
/// </summary>
public abstract class GatewayEndToEndSpecification(IXmppServerFixture server) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(server);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    private Task<SippPhone> PhoneAsync(string scenario, string user) => _stack.PhoneAsync(scenario, user);

    private Task<HttpClient> StartAsync(params (string Address, SippPhone Phone)[] bindings) => _stack.StartAsync(bindings);

    private static Task<List<string>> EventTypesAsync(HttpClient client, string id) => EventsAsync(client, id);

    [Fact]
    public async Task ACallPlacedThroughTheGatewayConnectsShowsItsEventsInOrderAndDeleteHangsUpBothPhones()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));

        var id = await CreateCallAsync(client, Alice, Bob);

        var call = await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(id, (string?)call["callSetupId"]);
        var legs = call["legs"]!.AsArray();
        Assert.NotEmpty(legs);
        // The id is the call-setup-id the service's engine placed the call with: every leg it published carries it.
        Assert.All(legs, l => Assert.Equal(id, (string?)l!["callSetupId"]));
        Assert.Contains(legs, l => (string?)l!["role"] == "callee" && (string?)l!["dialogState"] == "confirmed" && (bool)l!["active"]!);
        Assert.Equal(1, _stack.Service.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        // Leg changes that leave the call's state alone are call.updated events: bob's own leg appearing, then answering,
        // and alice's call-setup leg ending. Once they are in, every leg still up shows as answered.
        call = await WaitForCallAsync(client, id, c =>
        {
            var all = c["legs"]!.AsArray();
            return all.Any(l => !(bool)l!["active"]!) && all.Where(l => (bool)l!["active"]!).All(l => (string?)l!["dialogState"] == "confirmed");
        }, "every leg still up answered and the setup leg ended");
        Assert.Equal(["call.requested", "call.caller-ringing", "call.caller-answered", "call.callee-ringing", "call.updated", "call.connected", "call.updated", "call.updated"],
            await EventTypesAsync(client, id));

        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);

        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        call = await WaitForCallAsync(client, id, State("ended"), "ended");
        // The service retracts the legs before it answers the terminate; the hang-up was recorded before it was sent.
        Assert.Equal("terminated", (string?)call["endReason"]);
        var events = await EventTypesAsync(client, id);
        Assert.Equal("call.ended", events[^1]);
        // Each state is reported once (only call.updated, a change of legs, repeats).
        var states = events.Where(e => e != "call.updated").ToList();
        Assert.Equal(states.Count, states.Distinct().Count());
    }

    [Fact]
    public async Task DeleteWhileTheCalleeRingsCancelsItsInvite()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("ring-forever", "bob");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));

        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("callee-ringing"), "callee-ringing");

        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);

        await bob.AssertSucceededAsync();
        Assert.Contains("> CANCEL", bob.Flow());
        await alice.AssertSucceededAsync();
        var call = await WaitForCallAsync(client, id, State("ended"), "ended");
        // The answered setup dialog is terminated (which ends the whole call at the reference service); the callee's
        // cancel then finds nothing left to cancel, which is the goal reached, not an error.
        Assert.Equal("terminated", (string?)call["endReason"]);
    }

    [Fact]
    public async Task TransferOfTheCalleeToCarolRingsCarolAndHangsUpTheOtherParty()
    {
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        var carol = await PhoneAsync("answer", "carol");
        var client = await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob), ("carol@activecalls.test", carol));
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");

        var transfer = await client.PostJsonAsync($"/calls/{id}/transfer", $$"""{"endpoint":"callee","target":"{{Carol}}"}""");
        Assert.True(transfer.StatusCode == HttpStatusCode.Accepted, $"transfer: {(int)transfer.StatusCode} {await transfer.Content.ReadAsStringAsync(Ct)}");

        // The engine keeps the chosen party (bob), invites carol, re-invites bob, and hangs up the other party (alice).
        await alice.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!carol.Flow().Contains("> INVITE"))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "carol never got an INVITE: " + string.Join(", ", carol.Flow()));
            await Task.Delay(100, Ct);
        }
        Assert.Contains("call.transfer-requested", await EventTypesAsync(client, id));
    }

    [Fact]
    public async Task AKeyThatMayCallOnlyBobIsRefusedCarolWithNothingDialledAndItsCallToBobConnects()
    {
        const string DeskKey = "alice-desk-key-0123456789";
        foreach (var (key, value) in GatewayFactory.KeySettings(3, "alice-desk", DeskKey, ["alice@activecalls.test"], [Bob]))
            _stack.GatewaySettings[key] = value;
        // Each phone takes one call: had the refused create been sent, alice would have answered it instead of the next one.
        var alice = await PhoneAsync("answer", "alice");
        var bob = await PhoneAsync("answer", "bob");
        await StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var desk = _stack.Gateway.Client(DeskKey);

        var refused = await desk.PostJsonAsync("/calls", $$"""{"from":"{{Alice}}","to":"{{Carol}}"}""");

        var problem = await refused.AssertProblemAsync(403, "destination-not-allowed");
        Assert.Equal(Carol, (string?)problem["destination"]);
        Assert.Equal(0, _stack.Service.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        Assert.Empty(alice.Flow());

        var id = await CreateCallAsync(desk, Alice, Bob);
        await WaitForCallAsync(desk, id, State("connected"), "connected");
        Assert.Equal(HttpStatusCode.Accepted, (await desk.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
    }

    [Fact]
    public async Task AComponentErrorEndToEndIsA422WithTheComponentsText()
    {
        // The address is nobody's: a gateway that places calls from unfollowed addresses passes it on to the service.
        _stack.GatewaySettings["Gateway:Events:UnfollowedFrom"] = "Allow";
        var client = await StartAsync();

        var response = await client.PostJsonAsync("/calls", """{"from":"sip:nobody@unknown.invalid","to":"sip:bob@activecalls.test"}""");

        var problem = await response.AssertProblemAsync(422, "command-failed");
        Assert.StartsWith("Execution Errors; ", (string?)problem["detail"], StringComparison.Ordinal);
    }
}
