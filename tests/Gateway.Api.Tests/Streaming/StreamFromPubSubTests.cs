using System.Net;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Streaming;

/// <summary>
/// The whole gateway host with its real PubSub subscription manager against a scripted OnSIP (<see cref="FakeOnSipPeer"/>):
/// what the stream clients get when the service sends duplicated and reordered notifications.
/// </summary>
public sealed class StreamFromPubSubTests : IAsyncLifetime
{
    private const string CalleeNode = "/example.com/bob";
    private readonly GatewayFactory _gateway = new();
    private readonly FakeOnSipPeer _peer = new(TimeProvider.System);
    private readonly List<IAsyncDisposable> _clients = [];
    private FakeOnSipPeer.Connection? _receiver;

    public async ValueTask InitializeAsync()
    {
        var s = _gateway.Settings;
        s["Gateway:Events:SipAddress"] = "alice@example.com";
        s["Gateway:Events:Password"] = "web-password";
        s["Gateway:Events:AuthComponent"] = FakeOnSipPeer.Auth;
        s["Gateway:Events:PubSubService"] = FakeOnSipPeer.PubSub;
        _receiver = _peer.Connect(_gateway.Xmpp.LocalJid!.ToString());
        _gateway.Xmpp.Receiver = _receiver;
        var manager = _gateway.Service<ActiveCallsSubscriptionManager>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!manager.Status.IsActive)
        {
            Assert.True(DateTime.UtcNow < deadline, "the PubSub subscription never became active: " + manager.Status);
            await Task.Delay(20, Ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    private ValueTask PublishAsync(params (string Id, string Node, Gateway.Xmpp.ActiveCalls.ActiveCallItem Item)[] items) => _peer.PublishAsync(_receiver!, items);

    private ValueTask RetractAsync(string node, params string[] ids) => _peer.RetractAsync(_receiver!, node, ids);

    [Fact]
    public async Task DuplicatedAndReorderedNotificationsReachSignalRAndSseClientsOnceAndInOrder()
    {
        var signalR = await SignalRStreamClient.ConnectAsync(_gateway);
        _clients.Add(signalR);
        await signalR.SubscribeAsync(new { scope = "all" });
        var sse = await SseStreamClient.OpenAsync(_gateway.Client(), "/calls/stream?scope=address&address=bob@example.com");
        _clients.Add(sse);
        await sse.WaitForAsync(m => m.Count >= 1, "the SSE snapshot");
        var created = await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "dup00001"));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var later = DateTimeOffset.UtcNow;
        var earlier = later.AddSeconds(-5);

        // The caller's setup leg, twice in one notification and once more on its own.
        await PublishAsync(("setup", Node, SetupLeg("dup00001", "requested")), ("setup", Node, SetupLeg("dup00001", "requested")));
        await PublishAsync(("setup", Node, SetupLeg("dup00001", "requested")));
        await PublishAsync(("setup", Node, SetupLeg("dup00001", "confirmed", "tt-setup") with { PublishTime = later }));
        // A stale "requested" with an older publish-time after the "confirmed".
        await PublishAsync(("setup", Node, SetupLeg("dup00001", "requested") with { PublishTime = earlier }));
        // The callee's "confirmed" overtakes its "requested", and is then repeated.
        await PublishAsync(("callee", CalleeNode, CalleeLeg("dup00001", "confirmed", "tt-callee")));
        await PublishAsync(("callee", CalleeNode, CalleeLeg("dup00001", "requested")));
        await PublishAsync(("callee", CalleeNode, CalleeLeg("dup00001", "confirmed", "tt-callee")));
        // Retracts, one of them twice, and a publish after the retract.
        await RetractAsync(Node, "setup");
        await RetractAsync(CalleeNode, "callee", "callee");
        await PublishAsync(("callee", CalleeNode, CalleeLeg("dup00001", "confirmed", "tt-callee")));
        await RetractAsync(CalleeNode, "callee");

        // The setup leg's retract leaves the call connected on the callee's leg: a leg change alone, so call.updated.
        string[] expected = ["dup00001.1 call.requested", "dup00001.2 call.caller-ringing", "dup00001.3 call.caller-answered",
            "dup00001.4 call.connected", "dup00001.5 call.updated", "dup00001.6 call.ended"];
        foreach (var client in new StreamRecorder[] { signalR, sse })
        {
            await client.WaitForEventAsync("dup00001", "call.ended");
            Assert.Equal(expected, client.Events("dup00001"));
        }
        // A marker call after everything above: once it is here, nothing of the first call can still be on its way.
        var created2 = await _gateway.Client().PostJsonAsync("/calls", CreateBody(callSetupId: "mark0001"));
        Assert.Equal(HttpStatusCode.Accepted, created2.StatusCode);
        foreach (var client in new StreamRecorder[] { signalR, sse })
        {
            await client.WaitForEventAsync("mark0001", "call.requested");
            Assert.Equal(expected, client.Events("dup00001"));
            var positions = client.Messages.Select(m => long.Parse(m.Cursor[(m.Cursor.IndexOf('-', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(positions.Order(), positions);
        }
    }
}
