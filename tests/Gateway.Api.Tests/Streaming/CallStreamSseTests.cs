using System.Net;
using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Streaming;
using Gateway.Api.Tests.Infrastructure;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Streaming;

/// <summary><c>GET /calls/stream</c> (server-sent events) on the in-memory host; the tracker is fed directly.</summary>
public sealed class CallStreamSseTests : IAsyncLifetime
{
    private readonly GatewayFactory _gateway = new();
    private readonly List<IAsyncDisposable> _streams = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var stream in _streams) await stream.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    private CallTracker Calls => _gateway.Calls;

    private async Task<SseStreamClient> OpenAsync(string pathAndQuery = "/calls/stream", string? lastEventId = null, string? key = GatewayFactory.AdminKey)
    {
        var stream = await SseStreamClient.OpenAsync(_gateway.Client(key), pathAndQuery, lastEventId);
        _streams.Add(stream);
        return stream;
    }

    private async Task PlaceRingingCallAsync(string id)
    {
        await Calls.BeginCreateAsync(id, "sip:alice@example.com", "sip:bob@example.com", "admin");
        await Calls.CompleteCreateAsync(id, id);
        await Calls.ApplyPublishedAsync(SetupLeg(id, "requested"), "setup-" + id, Node);
    }

    private Task AnswerAsync(string id) => Calls.ApplyPublishedAsync(SetupLeg(id, "confirmed", "tt-setup"), "setup-" + id, Node);

    [Fact]
    public async Task StreamsASnapshotThenTheCallEventsEachWithItsCursorAsId()
    {
        await PlaceRingingCallAsync("sse00001");

        var stream = await OpenAsync();

        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(stream.Response.Headers.CacheControl?.NoCache);
        var snapshot = (await stream.WaitForAsync(m => m.Count >= 1, "the snapshot"))[0];
        Assert.Equal("snapshot", snapshot.Kind);
        Assert.Equal(["sse00001"], snapshot.SnapshotCallIds);
        Assert.Equal(2000, stream.Retry);
        await AnswerAsync("sse00001");
        await stream.WaitForEventAsync("sse00001", "call.caller-answered");
        Assert.Equal(["sse00001.3 call.caller-answered"], stream.Events());
    }

    [Fact]
    public async Task LastEventIdResumesWithExactlyTheMissedEventsAndTheHeaderWinsOverTheQuery()
    {
        var first = await OpenAsync();
        await PlaceRingingCallAsync("sse00002");
        var last = (await first.WaitForEventAsync("sse00002", "call.caller-ringing"))[^1].Cursor;
        await first.DisposeAsync();
        await AnswerAsync("sse00002");

        var resumed = await OpenAsync("/calls/stream?lastEventId=not-a-cursor", lastEventId: last);

        await resumed.WaitForEventAsync("sse00002", "call.caller-answered");
        Assert.DoesNotContain(resumed.Messages, m => m.Kind == "snapshot");
        Assert.Equal(["sse00002.3 call.caller-answered"], resumed.Events());
        var byQuery = await OpenAsync("/calls/stream?lastEventId=" + Uri.EscapeDataString(last));
        await byQuery.WaitForEventAsync("sse00002", "call.caller-answered");
        Assert.Equal(["sse00002.3 call.caller-answered"], byQuery.Events());
    }

    [Fact]
    public async Task RefusalsAreProblemJsonBeforeTheStreamStarts()
    {
        await PlaceRingingCallAsync("sse00003");

        await (await OpenAsync(key: null)).Response.AssertProblemAsync(401, "unauthorized");
        var badScope = await (await OpenAsync("/calls/stream?scope=everything")).Response.AssertProblemAsync(400, "validation-failed");
        Assert.NotNull(badScope["errors"]!["scope"]);
        var badCursor = await (await OpenAsync("/calls/stream", lastEventId: "yesterday")).Response.AssertProblemAsync(400, "validation-failed");
        Assert.NotNull(badCursor["errors"]!["lastEventId"]);
        await (await OpenAsync("/calls/stream?scope=address&address=dave@other.test", key: GatewayFactory.AliceKey)).Response.AssertProblemAsync(403, "out-of-scope");
        await (await OpenAsync("/calls/stream?scope=call&callId=nope")).Response.AssertProblemAsync(404, "call-not-found");
        var ok = await OpenAsync("/calls/stream?scope=call&callId=sse00003", key: GatewayFactory.AliceKey);
        Assert.Equal(["sse00003"], (await ok.WaitForAsync(m => m.Count >= 1, "the snapshot"))[0].SnapshotCallIds);
    }

    [Fact]
    public async Task AnIdleStreamSendsHeartbeatComments()
    {
        _gateway.Settings["Gateway:Streaming:HeartbeatInterval"] = "00:00:01";
        var stream = await OpenAsync();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!stream.Comments.Contains("heartbeat"))
        {
            Assert.True(DateTime.UtcNow < deadline, "no heartbeat comment");
            await Task.Delay(50, Ct);
        }
        Assert.Single(stream.Messages);
    }

    [Fact]
    public async Task OpenStreamsDoNotUseUpTheKeysConcurrencyLimit()
    {
        _gateway.Settings["Gateway:Http:ConcurrentRequestsPerKey"] = "2";

        for (var i = 0; i < 4; i++)
        {
            var stream = await OpenAsync();
            Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
            await stream.WaitForAsync(m => m.Count >= 1, "the snapshot");
        }
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client().GetAsync("/calls", Ct)).StatusCode);
        Assert.Equal(4, _gateway.Service<CallEventLog>().ReaderCount);
    }
}
