using System.Net;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Streaming;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Xmpp;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The call stream end to end: the gateway on Kestrel (real WebSockets and HTTP) with its real XMPP pool, a real Prosody,
/// the reference service and sipp phones; SignalR clients over WebSockets with the key in <c>?access_token=</c> (as a
/// browser sends it), SSE clients over HTTP.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class StreamEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody) { OnKestrel = true };
    private HttpClient _client = null!;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    /// <summary>alice and bob answer; the gateway on Kestrel.</summary>
    private async Task StartAsync()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        _client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
    }

    private async Task<SignalRStreamClient> SignalRAsync(object subscribe)
    {
        var client = _stack.Own(await SignalRStreamClient.ConnectAsync(_stack.GatewayAddress, GatewayFactory.AdminKey));
        await client.SubscribeAsync(subscribe);
        await client.WaitForAsync(m => m.Count >= 1, "the first message");
        return client;
    }

    private async Task<SseStreamClient> SseAsync(string query)
    {
        var client = _stack.Own(await SseStreamClient.OpenAsync(_client, "/calls/stream" + query));
        Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
        await client.WaitForAsync(m => m.Count >= 1, "the snapshot");
        return client;
    }

    private async Task HangUpAsync(string id)
    {
        var hangup = await _client.DeleteAsync($"/calls/{id}", Ct);
        Assert.True(hangup.StatusCode == HttpStatusCode.Accepted, $"DELETE: {(int)hangup.StatusCode} {await hangup.Content.ReadAsStringAsync(Ct)}");
    }

    /// <summary>The call's events on a stream are exactly its history (<c>GET /calls/{id}/events</c>): all, in order, once.</summary>
    private async Task AssertWholeHistoryAsync(StreamRecorder stream, string id)
    {
        var history = await EventsAsync(_client, id, withIds: true);
        // Up to connected the order is fixed; bob's leg appearing is a leg change without a state change (call.updated).
        Assert.Equal(
            [$"{id}.1 call.requested", $"{id}.2 call.caller-ringing", $"{id}.3 call.caller-answered", $"{id}.4 call.callee-ringing", $"{id}.5 call.updated", $"{id}.6 call.connected"],
            history[..6]);
        Assert.Equal("call.ended", history[^1].Split(' ')[1]);
        Assert.Equal(history, stream.Events(id));
    }

    /// <summary>The call's events <paramref name="stream"/> got after <paramref name="cursor"/>, as <c>{eventId} {type}</c>.</summary>
    private static List<string> EventsAfter(StreamRecorder stream, string id, string cursor) =>
        [.. stream.Messages.Where(m => m.Kind == "call" && m.CallId == id && Position(m.Cursor) > Position(cursor)).Select(m => $"{m.EventId} {m.EventType}")];

    [Fact]
    public async Task ASignalRAndAnSseClientEachGetTheWholeCallFromRequestedToEndedInOrderOnce()
    {
        await StartAsync();
        var signalR = await SignalRAsync(new { scope = "all" });
        var sse = await SseAsync("?scope=address&address=" + Uri.EscapeDataString(Bob));

        var id = await CreateCallAsync(_client, Alice, Bob);
        await signalR.WaitForEventAsync(id, "call.connected");
        await sse.WaitForEventAsync(id, "call.connected");
        await HangUpAsync(id);

        await signalR.WaitForEventAsync(id, "call.ended");
        await sse.WaitForEventAsync(id, "call.ended");
        await WaitForCallAsync(_client, id, State("ended"), "ended");
        await AssertWholeHistoryAsync(signalR, id);
        await AssertWholeHistoryAsync(sse, id);
    }

    [Fact]
    public async Task WhenTheGatewaysEventSocketIsKilledMidCallTheClientsStillGetTheCallsEnd()
    {
        await StartAsync();
        var signalR = await SignalRAsync(new { scope = "all" });
        var id = await CreateCallAsync(_client, Alice, Bob);
        await signalR.WaitForEventAsync(id, "call.connected");
        var sse = await SseAsync("?scope=call&callId=" + id);
        var manager = _stack.Gateway.Services.GetRequiredService<ActiveCallsSubscriptionManager>();
        var pool = (XmppPool)_stack.Gateway.Services.GetRequiredService<IXmppPool>();
        var receiver = (XmppClient)pool.Clients.Receiver!;

        // The connection holding the PubSub subscription drops as a network fault would, and the call is hung up
        // while the gateway moves its subscription to the other pooled connection and re-reads the items.
        receiver.AbortConnection("killed by the test");
        await HangUpAsync(id);

        await signalR.WaitForEventAsync(id, "call.ended");
        await sse.WaitForEventAsync(id, "call.ended");
        Assert.Equal("terminated", (string?)(await WaitForCallAsync(_client, id, State("ended"), "ended"))["endReason"]);
        await AssertWholeHistoryAsync(signalR, id);
        // The call subscription started with a snapshot of the connected call, then the rest of its history: every event
        // after the snapshot's cursor (leg changes after connected may come before or after it).
        var snapshot = sse.Messages[0];
        Assert.Equal(["connected"], snapshot.Body["calls"]!.AsArray().Select(c => (string)c!["state"]!));
        var rest = EventsAfter(signalR, id, snapshot.Cursor);
        Assert.DoesNotContain($"{id}.6 call.connected", rest);
        Assert.Equal(rest, sse.Events(id));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!manager.Status.IsActive)
        {
            Assert.True(DateTime.UtcNow < deadline, "the events subscription did not come back: " + manager.Status);
            await Task.Delay(100, Ct);
        }
    }

    [Fact]
    public async Task ASignalRClientThatComesBackWithItsLastCursorGetsExactlyTheEventsItMissed()
    {
        await StartAsync();
        var steady = await SignalRAsync(new { scope = "all" });
        var leaving = await SignalRAsync(new { scope = "all" });
        var id = await CreateCallAsync(_client, Alice, Bob);
        var seen = await leaving.WaitForEventAsync(id, "call.connected");
        var last = seen[^1].Cursor;
        await leaving.DisposeAsync();

        await HangUpAsync(id);
        await steady.WaitForEventAsync(id, "call.ended");
        var back = _stack.Own(await SignalRStreamClient.ConnectAsync(_stack.GatewayAddress, GatewayFactory.AdminKey));
        var resumed = await back.SubscribeAsync(new { scope = "all", afterCursor = last });

        Assert.Equal(last, (string)resumed["cursor"]!);
        await back.WaitForEventAsync(id, "call.ended");
        Assert.DoesNotContain(back.Messages, m => m.Kind == "snapshot");
        var lastPosition = Position(last);
        var missed = steady.Messages.Where(m => m.Kind == "call" && Position(m.Cursor) > lastPosition).Select(m => $"{m.Cursor} {m.EventId} {m.EventType}");
        Assert.Equal(missed, back.Messages.Select(m => $"{m.Cursor} {m.EventId} {m.EventType}"));
        // Against the REST history too: everything after the last event the client had seen.
        var history = await EventsAsync(_client, id, withIds: true);
        var lastSeen = history.IndexOf($"{seen[^1].EventId} {seen[^1].EventType}");
        Assert.InRange(lastSeen, 5, history.Count - 2);
        Assert.Equal(history[(lastSeen + 1)..], back.Events(id));
    }

    private static long Position(string cursor) => StreamCursor.TryParse(cursor, out var c) ? c.Position : throw new InvalidOperationException(cursor);
}
