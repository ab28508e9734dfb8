using System.Net;
using ActiveCalls.Sip.CallControl;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// A team in one gateway, end to end: the gateway follows alice (owner "demo") and dave (owner "sales", another domain)
/// on one JID against a real Prosody, the reference service and sipp phones; frank (owner "support") is not followed.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class TeamEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody) { OnKestrel = true };

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    /// <summary>The call's history (<c>GET /calls/{id}/events</c>) has every transition from requested to ended, and the
    /// stream got exactly that history: all, in order, once.</summary>
    private static async Task AssertWholeHistoryAsync(HttpClient client, StreamRecorder stream, string id)
    {
        var history = await EventsAsync(client, id, withIds: true);
        Assert.Equal(
            [$"{id}.1 call.requested", $"{id}.2 call.caller-ringing", $"{id}.3 call.caller-answered", $"{id}.4 call.callee-ringing", $"{id}.5 call.updated", $"{id}.6 call.connected"],
            history[..6]);
        Assert.Equal("call.ended", history[^1].Split(' ')[1]);
        Assert.Equal(history, stream.Events(id));
    }

    [Fact]
    public async Task CallsFromTheAddressesOfTwoOwnersEachShowEveryTransitionOnTheApiAndTheStreams()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var dave = await _stack.PhoneAsync("answer", "dave");
        var erin = await _stack.PhoneAsync("answer", "erin");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob),
            ("dave@" + SalesDomain, dave), ("erin@" + SalesDomain, erin));
        var signalR = _stack.Own(await SignalRStreamClient.ConnectAsync(_stack.GatewayAddress, GatewayFactory.AdminKey));
        await signalR.SubscribeAsync(new { scope = "all" });
        await signalR.WaitForAsync(m => m.Count >= 1, "the first message");
        var sse = _stack.Own(await SseStreamClient.OpenAsync(client, "/calls/stream?scope=address&address=" + Uri.EscapeDataString(Erin)));
        await sse.WaitForAsync(m => m.Count >= 1, "the snapshot");

        // bob is covered by alice's authorisation (auth-for-all), erin by dave's: one of each owner.
        var demo = await CreateCallAsync(client, Bob, Alice);
        var sales = await CreateCallAsync(client, Erin, Dave);
        await WaitForCallAsync(client, demo, State("connected"), "connected");
        await WaitForCallAsync(client, sales, State("connected"), "connected");
        await signalR.WaitForEventAsync(demo, "call.connected");
        await signalR.WaitForEventAsync(sales, "call.connected");
        await sse.WaitForEventAsync(sales, "call.connected");
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{demo}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{sales}", Ct)).StatusCode);

        foreach (var phone in new[] { alice, bob, dave, erin }) await phone.AssertSucceededAsync();
        foreach (var id in new[] { demo, sales })
        {
            var call = await WaitForCallAsync(client, id, State("ended"), "ended");
            Assert.Equal("terminated", (string?)call["endReason"]);
            await signalR.WaitForEventAsync(id, "call.ended");
        }
        await sse.WaitForEventAsync(sales, "call.ended");
        await AssertWholeHistoryAsync(client, signalR, demo);
        await AssertWholeHistoryAsync(client, signalR, sales);
        await AssertWholeHistoryAsync(client, sse, sales);
        Assert.Empty(sse.Events(demo)); // the SSE client asked for erin's calls only

        // Both followed users are authorised on the gateway's one JID, each for its owner's addresses.
        var followed = await (await client.GetAsync("/followed-users", Ct)).JsonAsync();
        var items = followed["items"]!.AsArray();
        Assert.Equal(["alice@activecalls.test", "dave@" + SalesDomain], items.Select(i => (string?)i!["address"]));
        Assert.All(items, i => Assert.True((bool)i!["authorized"]!));
        Assert.Equal(["alice@activecalls.test", "bob@activecalls.test", "carol@activecalls.test"],
            items[0]!["covers"]!.AsArray().Select(a => (string?)a).Order());
        Assert.Equal(["dave@" + SalesDomain, "erin@" + SalesDomain], items[1]!["covers"]!.AsArray().Select(a => (string?)a).Order());
    }

    [Fact]
    public async Task ACreateFromAnAddressNoFollowedUserCoversIsRefusedWith422AndNothingIsDialled()
    {
        var frank = await _stack.PhoneAsync("answer", "frank");
        var client = await _stack.StartAsync(("frank@activecalls.test", frank));

        var response = await client.PostJsonAsync("/calls", $$"""{"from":"{{Frank}}","to":"{{Alice}}"}""");

        var problem = await response.AssertProblemAsync(422, "from-not-followed");
        Assert.Equal(Frank, (string?)problem["from"]);
        Assert.Equal(0, _stack.Service.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        Assert.Empty(frank.Flow());
        Assert.Empty((await (await client.GetAsync("/calls", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task AUserAddedThroughTheAdminApiIsAuthorisedOnTheLiveSubscriptionAndItsCallsShowEveryTransition()
    {
        var frank = await _stack.PhoneAsync("answer", "frank");
        var alice = await _stack.PhoneAsync("answer", "alice");
        var client = await _stack.StartAsync(("frank@activecalls.test", frank), ("alice@activecalls.test", alice));

        var added = await client.PostJsonAsync("/followed-users", """{"address":"frank@activecalls.test","password":"frank-dev-password"}""");

        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.DoesNotContain("frank-dev-password", await added.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await EventuallyAsync(async () => (await (await client.GetAsync("/followed-users", Ct)).JsonAsync())["items"]!.AsArray(),
            items => items.Any(i => (string?)i!["address"] == "frank@activecalls.test" && (bool)i["authorized"]!), "frank authorised");
        var id = await CreateCallAsync(client, Frank, Alice);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await frank.AssertSucceededAsync();
        await alice.AssertSucceededAsync();
        await WaitForCallAsync(client, id, State("ended"), "ended");
        var events = await EventsAsync(client, id);
        Assert.Equal(["call.requested", "call.caller-ringing", "call.caller-answered", "call.callee-ringing", "call.updated", "call.connected"], events[..6]);
        Assert.Equal("call.ended", events[^1]);
    }
}
