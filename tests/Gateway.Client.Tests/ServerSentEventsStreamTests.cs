using System.Net;
using static Gateway.Client.Tests.GatewayJsonSamples;

namespace Gateway.Client.Tests;

public sealed class ServerSentEventsStreamTests
{
    private static GatewayClient Client(ScriptedHandler gateway) => new(new GatewayClientOptions
    {
        BaseAddress = new Uri("http://gateway.test/base"), ApiKey = "k1", HttpMessageHandler = gateway,
        ReconnectDelay = TimeSpan.Zero,
    });

    private static async Task<List<CallStreamItem>> TakeAsync(GatewayClient client, CallStreamScope scope, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var items = new List<CallStreamItem>();
        await foreach (var item in client.StreamCallsAsync(scope, timeout.Token))
        {
            items.Add(item);
            if (items.Count == count) break;
        }
        return items;
    }

    [Fact]
    public async Task StreamStartsWithTheSnapshotThenTheEventsInOrder()
    {
        var gateway = new ScriptedHandler().ThenStream(
            "retry: 2000\n\n" + Snapshot("e1-4", false, Call("ab12cd34", "caller-ringing")) + ": heartbeat\n\n" +
            Event("e1-5", "ab12cd34", 3, "caller-answered") + Event("e1-6", "ab12cd34", 4, "callee-ringing"));
        using var client = Client(gateway);

        var items = await TakeAsync(client, CallStreamScope.All, 3);

        var snapshot = Assert.IsType<CallStreamSnapshot>(items[0]);
        Assert.False(snapshot.Reset);
        Assert.Equal(CallState.CallerRinging, Assert.Single(snapshot.Calls).State);
        Assert.Equal(["e1-5", "e1-6"], items.Skip(1).Select(i => i.Cursor));
        var events = items.Skip(1).Cast<CallStreamEvent>().Select(e => e.Event).ToList();
        Assert.Equal([3L, 4L], events.Select(e => e.Sequence));
        Assert.Equal([CallState.CallerAnswered, CallState.CalleeRinging], events.Select(e => e.Call.State));
        var request = Assert.Single(gateway.Requests);
        Assert.Equal("http://gateway.test/base/calls/stream?scope=all", request.RequestUri!.AbsoluteUri);
        Assert.Equal("k1", Assert.Single(request.Headers.GetValues("X-Api-Key")));
        Assert.False(request.Headers.Contains("Last-Event-ID"));
    }

    [Fact]
    public async Task EndedResponseIsResumedAfterTheLastCursorWithoutRepeatingEvents()
    {
        var gateway = new ScriptedHandler()
            .ThenStream(Snapshot("e1-4", false) + Event("e1-5", "ab12cd34", 1, "requested"))
            .ThenStream(Event("e1-6", "ab12cd34", 2, "caller-ringing"));
        using var client = Client(gateway);

        var items = await TakeAsync(client, CallStreamScope.OfCall("ab12cd34"), 3);

        Assert.Equal(["e1-4", "e1-5", "e1-6"], items.Select(i => i.Cursor));
        Assert.Equal(2, gateway.Requests.Count);
        Assert.Equal("e1-5", Assert.Single(gateway.Requests[1].Headers.GetValues("Last-Event-ID")));
        Assert.EndsWith("calls/stream?scope=call&callId=ab12cd34", gateway.Requests[1].RequestUri!.AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DroppedStreamResumesAfterTheDroppedCursor()
    {
        var gateway = new ScriptedHandler()
            .ThenStream(Snapshot("e1-4", false) + Event("e1-5", "ab12cd34", 1, "requested") + Dropped("e1-5"))
            .ThenStream(Event("e1-6", "ab12cd34", 2, "caller-ringing"));
        using var client = Client(gateway);

        var items = await TakeAsync(client, CallStreamScope.All, 3);

        Assert.Equal(["e1-4", "e1-5", "e1-6"], items.Select(i => i.Cursor));
        Assert.Equal("e1-5", Assert.Single(gateway.Requests[1].Headers.GetValues("Last-Event-ID")));
    }

    [Fact]
    public async Task ResumeTheGatewayCannotReplaySurfacesAResetSnapshot()
    {
        var gateway = new ScriptedHandler()
            .ThenStream(Snapshot("e9-1", true, Call("ab12cd34", "connected")) + Event("e9-2", "ab12cd34", 7, "ended"));
        using var client = Client(gateway);

        var items = await TakeAsync(client, CallStreamScope.All with { AfterCursor = "e1-100" }, 2);

        Assert.Equal("e1-100", Assert.Single(gateway.Requests[0].Headers.GetValues("Last-Event-ID")));
        var snapshot = Assert.IsType<CallStreamSnapshot>(items[0]);
        Assert.True(snapshot.Reset);
        Assert.Equal("ab12cd34", Assert.Single(snapshot.Calls).Id);
        Assert.Equal(CallState.Ended, Assert.IsType<CallStreamEvent>(items[1]).Event.Call.State);
    }

    [Fact]
    public async Task UnavailableGatewayAndNetworkFailuresAreRetriedWithTheSameCursor()
    {
        var gateway = new ScriptedHandler()
            .ThenStream(Snapshot("e1-4", false))
            .ThenProblem(HttpStatusCode.ServiceUnavailable, """{"type":"urn:active-calls-gateway:problem:xmpp-unavailable","status":503,"code":"xmpp-unavailable"}""")
            .ThenNetworkFailure()
            .ThenProblem(HttpStatusCode.TooManyRequests, """{"status":429,"code":"rate-limited"}""")
            .ThenStream(Event("e1-5", "ab12cd34", 1, "requested"));
        using var client = Client(gateway);

        var items = await TakeAsync(client, CallStreamScope.All, 2);

        Assert.Equal(["e1-4", "e1-5"], items.Select(i => i.Cursor));
        Assert.Equal(5, gateway.Requests.Count);
        Assert.All(gateway.Requests.Skip(1), r => Assert.Equal("e1-4", Assert.Single(r.Headers.GetValues("Last-Event-ID"))));
    }

    [Fact]
    public async Task RefusedKeyEndsTheStreamWithTheProblem()
    {
        var gateway = new ScriptedHandler().ThenProblem(HttpStatusCode.Unauthorized,
            """{"type":"urn:active-calls-gateway:problem:unauthorized","title":"Unauthorized","status":401,"detail":"The API key is not valid.","code":"unauthorized","traceId":"00-abc-def-01"}""");
        using var client = Client(gateway);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => TakeAsync(client, CallStreamScope.All, 1));

        Assert.Equal(HttpStatusCode.Unauthorized, problem.Status);
        Assert.Equal("unauthorized", problem.Code);
        Assert.Single(gateway.Requests);
    }

    [Fact]
    public void MessagesOfUnknownTypesAreSkipped()
    {
        Assert.Null(ServerSentEventsCallStream.Parse("presence", "{\"cursor\":\"e1-1\"}"u8));
    }
}
