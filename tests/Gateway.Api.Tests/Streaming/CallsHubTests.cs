using System.Net;
using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Streaming;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.AspNetCore.SignalR;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Streaming;

/// <summary>The SignalR hub with the real .NET client over WebSockets to the in-memory host; the tracker is fed directly.</summary>
public sealed class CallsHubTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();
    private readonly List<IAsyncDisposable> _clients = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    private CallTracker Calls => _gateway.Calls;

    private async Task<SignalRStreamClient> ConnectAsync(string key = GatewayFactory.AdminKey)
    {
        var client = await SignalRStreamClient.ConnectAsync(_gateway, key);
        _clients.Add(client);
        return client;
    }

    /// <summary>alice@example.com calls bob@example.com through the API: call.requested, then the setup leg rings alice.</summary>
    private async Task PlaceRingingCallAsync(string id)
    {
        await Calls.BeginCreateAsync(id, "sip:alice@example.com", "sip:bob@example.com", "admin");
        await Calls.CompleteCreateAsync(id, id);
        await Calls.ApplyPublishedAsync(SetupLeg(id, "requested"), "setup-" + id, Node);
    }

    /// <summary>Alice answers, bob rings, bob answers: caller-answered, callee-ringing, connected.</summary>
    private async Task ConnectCallAsync(string id)
    {
        await Calls.ApplyPublishedAsync(SetupLeg(id, "confirmed", "tt-setup"), "setup-" + id, Node);
        await Calls.ApplyPublishedAsync(CalleeLeg(id, "requested"), "callee-" + id, "/example.com/bob");
        await Calls.ApplyPublishedAsync(CalleeLeg(id, "confirmed", "tt-callee"), "callee-" + id, "/example.com/bob");
    }

    private async Task HangUpAsync(string id)
    {
        await Calls.ApplyRetractedAsync("setup-" + id);
        await Calls.ApplyRetractedAsync("callee-" + id);
    }

    /// <summary>carol@other.test rings dave@other.test: a call outside alice's and the domain key's scope.</summary>
    private Task PlaceForeignCallAsync(string sipCallId) => Calls.ApplyPublishedAsync(new ActiveCallItem
    {
        DialogStateText = "requested", CallId = sipCallId, FromUri = "sip:carol@other.test", ToUri = "sip:dave@other.test", FromTag = "ft-" + sipCallId,
    }, "item-" + sipCallId, "/other.test/dave");

    /// <summary>The server's HubException message (the client prefixes it with "An unexpected error occurred invoking …").</summary>
    private static async Task<string> RefusedAsync(SignalRStreamClient client, object request)
    {
        var e = await Assert.ThrowsAsync<HubException>(() => client.SubscribeAsync(request));
        const string Marker = "HubException: ";
        var at = e.Message.IndexOf(Marker, StringComparison.Ordinal);
        Assert.True(at >= 0, e.Message);
        return e.Message[(at + Marker.Length)..];
    }

    [Fact]
    public async Task SubscribingToAllSendsASnapshotOfTheActiveCallsThenTheirEventsInOrder()
    {
        await PlaceRingingCallAsync("call0001");
        await PlaceRingingCallAsync("done0001");
        await HangUpAsync("done0001");
        var client = await ConnectAsync();

        var subscription = await client.SubscribeAsync(new { scope = "all" });

        var snapshot = (await client.WaitForAsync(m => m.Count >= 1, "the snapshot"))[0];
        Assert.Equal("snapshot", snapshot.Kind);
        Assert.Equal((string)subscription["subscriptionId"]!, snapshot.SubscriptionId);
        Assert.Equal((string)subscription["cursor"]!, snapshot.Cursor);
        Assert.False((bool)snapshot.Body["reset"]!);
        Assert.Equal(["call0001"], snapshot.SnapshotCallIds);

        await ConnectCallAsync("call0001");
        await HangUpAsync("call0001");
        await client.WaitForEventAsync("call0001", "call.ended");
        Assert.Equal(["call0001.3 call.caller-answered", "call0001.4 call.callee-ringing", "call0001.5 call.connected", "call0001.6 call.updated", "call0001.7 call.ended"],
            client.Events());
        // Cursors: the snapshot's epoch, positions strictly increasing after the snapshot's.
        var positions = client.Messages.Select(m => StreamCursor.TryParse(m.Cursor, out var c) ? c : throw new InvalidOperationException(m.Cursor)).ToList();
        Assert.All(positions, c => Assert.Equal(positions[0].Epoch, c.Epoch));
        Assert.Equal(positions.Select(c => c.Position).Order(), positions.Select(c => c.Position));
        Assert.Equal(positions.Count, positions.Select(c => c.Position).Distinct().Count());
    }

    [Fact]
    public async Task ReplayAfterCursorSendsOnlyTheMissedEventsAndNoSnapshot()
    {
        var first = await ConnectAsync();
        await first.SubscribeAsync(new { scope = "all" });
        await PlaceRingingCallAsync("call0002");
        var seen = await first.WaitForEventAsync("call0002", "call.caller-ringing");
        var last = seen[^1].Cursor;
        await first.DisposeAsync();

        await ConnectCallAsync("call0002");
        var second = await ConnectAsync();
        var subscription = await second.SubscribeAsync(new { scope = "all", afterCursor = last });

        Assert.Equal(last, (string)subscription["cursor"]!);
        await second.WaitForEventAsync("call0002", "call.connected");
        await HangUpAsync("call0002");
        await second.WaitForEventAsync("call0002", "call.ended");
        Assert.DoesNotContain(second.Messages, m => m.Kind == "snapshot");
        Assert.Equal(["call0002.3 call.caller-answered", "call0002.4 call.callee-ringing", "call0002.5 call.connected", "call0002.6 call.updated", "call0002.7 call.ended"],
            second.Events());
    }

    [Fact]
    public async Task ACursorOfAnotherEpochOrOlderThanTheReplayWindowGetsAResetSnapshotAndOneAheadIsRefused()
    {
        _gateway.Settings["Gateway:Streaming:ReplayWindow"] = "16";
        var client = await ConnectAsync();
        var epoch = _gateway.Service<CallEventLog>().Epoch;
        for (var i = 0; i < 10; i++) await PlaceRingingCallAsync($"old{i:d5}");
        // The log is a consumer with a queue of its own: until it holds the 20th event, position 2 is still in its window
        // (it would be replayed, rightly), so wait until it has moved past it (16 retained: 5..20).
        var log = _gateway.Service<CallEventLog>();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); log.OldestRetained < 5; await Task.Delay(10, Ct))
            Assert.True(DateTime.UtcNow < deadline, $"the stream log holds events from {log.OldestRetained} on, not from 5");

        var tooOld = await client.SubscribeAsync(new { scope = "all", afterCursor = epoch + "-1" });
        var otherEpoch = await client.SubscribeAsync(new { scope = "all", afterCursor = "0123456789-3" });

        var snapshots = await client.WaitForAsync(m => m.Count(x => x.Kind == "snapshot") == 2, "two snapshots");
        Assert.All(snapshots, s => Assert.True((bool)s.Body["reset"]!));
        Assert.Equal(10, snapshots[0].SnapshotCallIds.Count);
        Assert.Equal(epoch + "-20", (string)tooOld["cursor"]!);
        Assert.Equal(epoch + "-20", (string)otherEpoch["cursor"]!);
        var ahead = await RefusedAsync(client, new { scope = "all", afterCursor = epoch + "-21" });
        Assert.Contains("ahead of this gateway's event log", ahead, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACallSubscriptionFollowsOneCallFoundByItsSipCallIdAndSnapshotsItEvenWhenEnded()
    {
        await PlaceRingingCallAsync("call0003");
        await PlaceRingingCallAsync("call0004");
        await HangUpAsync("call0004");
        var client = await ConnectAsync();

        var live = await client.SubscribeAsync(new { scope = "call", callId = "setup-call0003" });
        var ended = await client.SubscribeAsync(new { scope = "call", callId = "call0004" });
        await ConnectCallAsync("call0004");
        await ConnectCallAsync("call0003");

        await client.WaitForEventAsync("call0003", "call.connected");
        var snapshots = client.Messages.Where(m => m.Kind == "snapshot").ToDictionary(m => m.SubscriptionId);
        Assert.Equal(["call0003"], snapshots[(string)live["subscriptionId"]!].SnapshotCallIds);
        Assert.Equal(["call0004"], snapshots[(string)ended["subscriptionId"]!].SnapshotCallIds);
        Assert.Equal(["call0003.3 call.caller-answered", "call0003.4 call.callee-ringing", "call0003.5 call.connected"], client.Events());
        Assert.All(client.Messages.Where(m => m.Kind == "call"), m => Assert.Equal((string)live["subscriptionId"]!, m.SubscriptionId));
    }

    [Fact]
    public async Task AnAddressSubscriptionGetsTheCallsWithThatPartyOrLeg()
    {
        var client = await ConnectAsync();
        await client.SubscribeAsync(new { scope = "address", address = "sip:bob@example.com" });

        await PlaceForeignCallAsync("foreign-1");
        await PlaceRingingCallAsync("call0005");
        await ConnectCallAsync("call0005");

        await client.WaitForEventAsync("call0005", "call.connected");
        Assert.Equal(["call0005.1 call.requested", "call0005.2 call.caller-ringing", "call0005.3 call.caller-answered",
            "call0005.4 call.callee-ringing", "call0005.5 call.connected"], client.Events());
    }

    [Fact]
    public async Task AKeyScopedToAliceSeesOnlyHerCallsAndIsForbiddenAnythingElse()
    {
        await PlaceForeignCallAsync("foreign-2");
        var client = await ConnectAsync(GatewayFactory.AliceKey);
        await client.SubscribeAsync(new { scope = "all" });

        await PlaceForeignCallAsync("foreign-3");
        await PlaceRingingCallAsync("call0006");
        await client.WaitForEventAsync("call0006", "call.caller-ringing");

        Assert.Empty(client.Messages[0].SnapshotCallIds);
        Assert.Equal(["call0006.1 call.requested", "call0006.2 call.caller-ringing"], client.Events());
        Assert.Equal("forbidden", await RefusedAsync(client, new { scope = "address", address = "dave@other.test" }));
        Assert.Equal("forbidden", await RefusedAsync(client, new { scope = "call", callId = "foreign-2" }));
        await client.SubscribeAsync(new { scope = "call", callId = "call0006" });
        await client.SubscribeAsync(new { scope = "address", address = "alice@example.com" });
    }

    [Fact]
    public async Task BadSubscribeArgumentsAreRefusedWithAClearMessage()
    {
        var client = await ConnectAsync();

        Assert.Contains("scope must be 'all', 'address' or 'call'", await RefusedAsync(client, new { scope = "everything" }), StringComparison.Ordinal);
        Assert.Contains("address is required", await RefusedAsync(client, new { scope = "address" }), StringComparison.Ordinal);
        Assert.Contains("is not a SIP address", await RefusedAsync(client, new { scope = "address", address = "bob" }), StringComparison.Ordinal);
        Assert.Contains("address does not go with scope 'all'", await RefusedAsync(client, new { scope = "all", address = "bob@example.com" }), StringComparison.Ordinal);
        Assert.Contains("callId is required", await RefusedAsync(client, new { scope = "call" }), StringComparison.Ordinal);
        Assert.Contains("No call with id or SIP Call-ID 'nope' is known", await RefusedAsync(client, new { scope = "call", callId = "nope" }), StringComparison.Ordinal);
        Assert.Contains("is not a cursor", await RefusedAsync(client, new { scope = "all", afterCursor = "yesterday" }), StringComparison.Ordinal);
        // A misspelt member is an error rather than a silent snapshot.
        await Assert.ThrowsAnyAsync<Exception>(() => client.SubscribeAsync(new { scope = "all", afterCurser = "x-1" }));
        Assert.Empty(client.Messages);
    }

    [Fact]
    public async Task ASubscribeArgumentThatGivesAMemberTwiceIsRefusedRatherThanTheLastOneWinning()
    {
        await PlaceRingingCallAsync("call0001");
        var client = await ConnectAsync();
        using var twice = System.Text.Json.JsonDocument.Parse("""{"scope":"call","scope":"all"}""");

        await Assert.ThrowsAnyAsync<Exception>(() => client.SubscribeAsync(twice.RootElement));

        Assert.Empty(client.Messages);
        await client.SubscribeAsync(new { scope = "all" });
    }

    [Fact]
    public async Task UnsubscribeStopsItsEventsAndAConnectionHoldsAtMostTheConfiguredSubscriptions()
    {
        _gateway.Settings["Gateway:Streaming:MaxSubscriptionsPerConnection"] = "2";
        var client = await ConnectAsync();
        var first = (string)(await client.SubscribeAsync(new { scope = "all" }))["subscriptionId"]!;
        var second = (string)(await client.SubscribeAsync(new { scope = "all" }))["subscriptionId"]!;
        Assert.Contains("at most 2 subscriptions", await RefusedAsync(client, new { scope = "all" }), StringComparison.Ordinal);

        await client.UnsubscribeAsync(first);
        await client.UnsubscribeAsync(first); // already gone: nothing to do
        var third = (string)(await client.SubscribeAsync(new { scope = "all" }))["subscriptionId"]!;
        await PlaceRingingCallAsync("call0007");

        await client.WaitForAsync(m => m.Count(x => x.Kind == "call" && x.SubscriptionId == third) == 2, "both events on the third subscription");
        await client.WaitForAsync(m => m.Count(x => x.Kind == "call" && x.SubscriptionId == second) == 2, "both events on the second subscription");
        Assert.DoesNotContain(client.Messages, m => m.Kind == "call" && m.SubscriptionId == first);
    }

    [Fact]
    public async Task ClosingTheConnectionEndsItsSubscriptions()
    {
        var log = _gateway.Service<CallEventLog>();
        var client = await ConnectAsync();
        await client.SubscribeAsync(new { scope = "all" });
        await client.SubscribeAsync(new { scope = "address", address = "bob@example.com" });
        Assert.Equal(2, log.ReaderCount);

        await client.Connection.StopAsync(Ct);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (log.ReaderCount != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the subscriptions outlived their connection");
            await Task.Delay(20, Ct);
        }
    }

    [Fact]
    public async Task NegotiationNeedsAnApiKeyWhichMayComeAsAccessTokenOnTheHubPathOnly()
    {
        var anonymous = _gateway.Client(key: null);

        var refused = await anonymous.PostAsync("/hubs/calls/negotiate?negotiateVersion=1", null, Ct);
        await refused.AssertProblemAsync(401, "unauthorized");
        var negotiated = await anonymous.PostAsync($"/hubs/calls/negotiate?negotiateVersion=1&useStatefulReconnect=true&access_token={GatewayFactory.AdminKey}", null, Ct);
        Assert.Equal(HttpStatusCode.OK, negotiated.StatusCode);
        var body = await negotiated.JsonAsync();
        Assert.NotNull(body["connectionToken"]);
        Assert.True((bool?)body["useStatefulReconnect"]);
        var rest = await anonymous.GetAsync($"/calls?access_token={GatewayFactory.AdminKey}", Ct);
        await rest.AssertProblemAsync(401, "unauthorized");
    }
}
