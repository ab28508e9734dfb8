using System.Net;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Api;

/// <summary>
/// What a gateway restart must not lose, on the SQLite store (the default): an accepted hang-up, idempotency keys, the
/// history, per-call sequences and stream cursors. "A restart" is a new gateway host on the same calls database; the
/// XMPP side is the scripted fake (the end-to-end suite does the same against Prosody, the service and sipp).
/// </summary>
public sealed class DurableCallsTests : IAsyncDisposable
{
    private const string Id = "ab12cd34";
    private readonly TempSqliteFile _database = new("durable-calls");
    private readonly List<GatewayFactory> _gateways = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _gateways) await gateway.DisposeAsync();
        await _database.DisposeAsync();
    }

    /// <summary>A gateway on the shared calls database, retrying intents quickly.</summary>
    private GatewayFactory Start()
    {
        var gateway = new GatewayFactory();
        gateway.Settings["Gateway:Calls:DatabasePath"] = _database.Path;
        gateway.Settings["Gateway:Calls:IntentRetryDelay"] = "00:00:00.050";
        gateway.Settings["Gateway:Calls:IntentMaxRetryDelay"] = "00:00:00.200";
        gateway.Settings["Gateway:Calls:IntentAnswerWait"] = "00:00:00.500";
        // The breaker would turn the scripted outage into fast failures; an outage is what is tested here.
        gateway.Settings["Gateway:Resilience:BreakerMinimumThroughput"] = "1000";
        _gateways.Add(gateway);
        return gateway;
    }

    private async Task StopAsync(GatewayFactory gateway)
    {
        _gateways.Remove(gateway);
        await gateway.DisposeAsync();
    }

    private static async Task ConnectAsync(GatewayFactory gateway)
    {
        await gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
        await gateway.Calls.ApplyPublishedAsync(CalleeLeg(Id, "confirmed", toTag: "tt-callee"), "item-callee", Node, Ct);
    }

    private static async Task EndAsync(GatewayFactory gateway)
    {
        await gateway.Calls.ApplyRetractedAsync("item-setup", Ct);
        await gateway.Calls.ApplyRetractedAsync("item-callee", Ct);
    }

    private static IReadOnlyList<SentIq> Sent(GatewayFactory gateway, string node) => [.. gateway.Xmpp.Sent.Where(iq => iq.Node == node)];

    private static async Task<List<string>> EventTypesAsync(HttpClient client) =>
        [.. (await (await client.GetAsync($"/calls/{Id}/events", Ct)).JsonAsync())["items"]!.AsArray().Select(e => $"{(long)e!["sequence"]!}:{(string)e["type"]!}")];

    private static void Unreachable(GatewayFactory gateway, int times)
    {
        for (var i = 0; i < times; i++) gateway.Xmpp.Throw(new XmppIqTimeoutException("scripted", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AHangupAcceptedDuringAnOutageIsCarriedOutWhenThePathReturns()
    {
        var gateway = Start();
        var client = gateway.Client();
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostJsonAsync("/calls", CreateBody(callSetupId: Id))).StatusCode);
        await ConnectAsync(gateway);
        Unreachable(gateway, 3);

        var response = await client.DeleteAsync($"/calls/{Id}", Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("connected", (string?)(await response.JsonAsync())["state"]);
        // Two answered dialogs: three attempts fail on the first terminate, the fourth sends both.
        var terminates = await EventuallyAsync(() => Task.FromResult(Sent(gateway, "terminate")), s => s.Count == 5, "three failed attempts, then both terminates");
        Assert.Equal(["setup-ab12cd34", "setup-ab12cd34", "setup-ab12cd34", "setup-ab12cd34", "callee-ab12cd34"], terminates.Select(t => t.Field("call-id")));
        await EndAsync(gateway);
        var call = await (await client.GetAsync($"/calls/{Id}", Ct)).JsonAsync();
        Assert.Equal("terminated", (string?)call["endReason"]);
        Assert.Equal(["1:call.requested", "2:call.caller-answered", "3:call.connected", "4:call.hangup-requested", "5:call.updated", "6:call.ended"],
            await EventTypesAsync(client));
    }

    [Fact]
    public async Task AHangupTheComponentRefusesForGoodAnswersTheErrorAndTheCallSaysWhy()
    {
        var gateway = Start();
        var client = gateway.Client();
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await ConnectAsync(gateway);
        gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "cancel", "forbidden", "not your call"));

        var response = await client.DeleteAsync($"/calls/{Id}", Ct);

        await response.AssertProblemAsync(403, "component-forbidden");
        var events = (await (await client.GetAsync($"/calls/{Id}/events", Ct)).JsonAsync())["items"]!.AsArray();
        Assert.Equal(["call.hangup-requested", "call.hangup-failed"], events.Skip(3).Select(e => (string)e!["type"]!));
        Assert.Contains("not your call", (string?)events[^1]!["reason"], StringComparison.Ordinal);
        // Refused for good: not retried; the call ends for its own reason.
        await Task.Delay(300, Ct);
        Assert.Single(Sent(gateway, "terminate"));
        await EndAsync(gateway);
        Assert.Equal("completed", (string?)(await (await client.GetAsync($"/calls/{Id}", Ct)).JsonAsync())["endReason"]);
    }

    [Fact]
    public async Task ItemNotFoundOnARetryMeansTheTimedOutAttemptWentThroughNotAFailure()
    {
        var gateway = Start();
        var client = gateway.Client();
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await ConnectAsync(gateway);
        Unreachable(gateway, 1);
        gateway.Xmpp.Reply(iq => FakeXmppPool.ErrorReply(iq, "cancel", "item-not-found"));

        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{Id}", Ct)).StatusCode);

        await EventuallyAsync(() => Task.FromResult(Sent(gateway, "terminate")), s => s.Count == 2, "the timed-out terminate and its retry");
        await Task.Delay(300, Ct);
        Assert.Equal(2, Sent(gateway, "terminate").Count);
        Assert.DoesNotContain("5:call.hangup-failed", await EventTypesAsync(client));
    }

    [Fact]
    public async Task AHangupAcceptedBeforeARestartIsCarriedOutByTheNextProcess()
    {
        var first = Start();
        var client = first.Client();
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await ConnectAsync(first);
        Unreachable(first, 1000);
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{Id}", Ct)).StatusCode);
        await StopAsync(first);

        var second = Start();
        client = second.Client();

        var terminates = await EventuallyAsync(() => Task.FromResult(Sent(second, "terminate")), s => s.Count == 2, "both terminates from the new process");
        Assert.Equal([("setup-ab12cd34", "ft-setup", "tt-setup"), ("callee-ab12cd34", "ft-callee", "tt-callee")],
            terminates.Select(t => (t.Field("call-id"), t.Field("from-tag"), t.Field("to-tag"))));
        await EndAsync(second);
        Assert.Equal("terminated", (string?)(await (await client.GetAsync($"/calls/{Id}", Ct)).JsonAsync())["endReason"]);
        Assert.Equal("4:call.hangup-requested", (await EventTypesAsync(client))[3]);
    }

    [Fact]
    public async Task ACreateInFlightWhenTheProcessDiedIsAnUnknownOutcomeItsCallAppearsWhenItsLegsDo()
    {
        // What the previous process left: the create registered, sent, its answer never seen.
        await using (var store = new SqliteCallStore(Options.Create(new CallsOptions { DatabasePath = _database.Path }), NullLogger<SqliteCallStore>.Instance))
        {
            await store.OpenAsync(Ct);
            var sent = CallStateMachine.BeginCreate(null, Id, "sip:alice@example.com", "sip:bob@example.com", "admin", DateTimeOffset.UtcNow);
            await store.CommitAsync(new CallCommit { Calls = [sent] }, Ct);
        }

        var gateway = Start();
        var client = gateway.Client();
        await (await client.GetAsync($"/calls/{Id}", Ct)).AssertProblemAsync(404, "call-not-found");
        await gateway.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);

        Assert.Equal("caller-ringing", (string?)(await (await client.GetAsync($"/calls/{Id}", Ct)).JsonAsync())["state"]);
        Assert.Equal(["1:call.requested", "2:call.caller-ringing"], await EventTypesAsync(client));
    }

    [Fact]
    public async Task TheSameIdempotencyKeyBeforeAndAfterARestartPlacesOneCall()
    {
        var first = Start();
        var original = await first.Client().PostJsonAsync("/calls", CreateBody(callSetupId: Id), idempotencyKey: "retry-me-1");
        Assert.Equal(HttpStatusCode.Accepted, original.StatusCode);
        var originalBody = await original.Content.ReadAsStringAsync(Ct);
        await StopAsync(first);

        var second = Start();
        var retried = await second.Client().PostJsonAsync("/calls", CreateBody(callSetupId: Id), idempotencyKey: "retry-me-1");

        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Equal("true", retried.Headers.GetValues("Idempotency-Replayed").Single());
        Assert.Equal(originalBody, await retried.Content.ReadAsStringAsync(Ct));
        Assert.Empty(second.Xmpp.Sent);
    }

    [Fact]
    public async Task CallsEventsAndSequencesContinueAcrossARestartAndEndedCallsFormTheHistory()
    {
        var first = Start();
        await first.Client().PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await first.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);
        await StopAsync(first);

        var second = Start();
        var client = second.Client();
        Assert.Equal("caller-ringing", (string?)(await (await client.GetAsync($"/calls/{Id}", Ct)).JsonAsync())["state"]);
        await ConnectAsync(second);
        await EndAsync(second);

        Assert.Equal(["1:call.requested", "2:call.caller-ringing", "3:call.caller-answered", "4:call.connected", "5:call.updated", "6:call.ended"],
            await EventTypesAsync(client));
        var active = await (await client.GetAsync("/calls", Ct)).JsonAsync();
        Assert.Empty(active["items"]!.AsArray());
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O"));
        var history = await (await client.GetAsync($"/calls?state=ended&endedAfter={since}", Ct)).JsonAsync();
        Assert.Equal([Id], history["items"]!.AsArray().Select(c => (string)c!["id"]!));
        var future = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"));
        Assert.Empty((await (await client.GetAsync($"/calls?endedAfter={future}", Ct)).JsonAsync())["items"]!.AsArray());
    }

    [Fact]
    public async Task AStreamClientResumesAfterARestartWithNoResetAndNoGap()
    {
        var first = Start();
        await first.Client().PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await using (var stream = await SseStreamClient.OpenAsync(first.Client(), "/calls/stream"))
        {
            await first.Calls.ApplyPublishedAsync(SetupLeg(Id, "requested"), "item-setup", Node, Ct);
            var ringing = await stream.WaitForEventAsync(Id, "call.caller-ringing");
            var cursor = ringing[^1].Cursor;
            await StopAsync(first);

            var second = Start();
            // Events while the client was away, then it comes back with its last cursor.
            await second.Calls.ApplyPublishedAsync(SetupLeg(Id, "confirmed", toTag: "tt-setup"), "item-setup", Node, Ct);
            await using var resumed = await SseStreamClient.OpenAsync(second.Client(), "/calls/stream", lastEventId: cursor);
            await second.Calls.ApplyPublishedAsync(CalleeLeg(Id, "requested"), "item-callee", Node, Ct);

            await resumed.WaitForEventAsync(Id, "call.callee-ringing");
            Assert.DoesNotContain(resumed.Messages, m => m.Kind == "snapshot");
            Assert.Equal(["ab12cd34.3 call.caller-answered", "ab12cd34.4 call.callee-ringing"], resumed.Events(Id));
        }
    }

    [Fact]
    public async Task EventsCommittedButNotYetQueuedForWebhooksWhenTheProcessDiedAreQueuedByTheNextOne()
    {
        var webhooks = new TempSqliteFile("durable-webhooks");
        await using var _ = webhooks;
        var first = Start();
        first.Settings["Gateway:Webhooks:DatabasePath"] = webhooks.Path;
        var client = first.Client();
        // Nothing listens there: deliveries stay pending, which is all this test reads.
        var created = await client.PostJsonAsync("/webhooks", """{"url":"http://127.0.0.1:9/hook"}""");
        var webhook = (string)(await created.JsonAsync())["id"]!;
        await client.PostJsonAsync("/calls", CreateBody(callSetupId: Id));
        await ConnectAsync(first);
        await EventuallyAsync(() => DeliveryEventsAsync(client, webhook), d => d.Count == 3, "three deliveries queued");
        await StopAsync(first);
        // What a crash between the calls commit and the webhook queue's leaves: the last two events not queued.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={webhooks.Path};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM deliveries WHERE event_id IN ('ab12cd34.2', 'ab12cd34.3'); UPDATE event_checkpoint SET position = position - 2;";
            Assert.Equal(3, await command.ExecuteNonQueryAsync(Ct));
        }

        var second = Start();
        second.Settings["Gateway:Webhooks:DatabasePath"] = webhooks.Path;
        client = second.Client();

        var events = await EventuallyAsync(() => DeliveryEventsAsync(client, webhook), d => d.Count == 3, "the two lost events queued again");
        Assert.Equal(["ab12cd34.1", "ab12cd34.2", "ab12cd34.3"], events);
        await EndAsync(second);
        await EventuallyAsync(() => DeliveryEventsAsync(client, webhook), d => d.Count == 5, "later events queued once");
    }

    private static async Task<List<string>> DeliveryEventsAsync(HttpClient client, string webhook) =>
        [.. (await (await client.GetAsync($"/webhooks/{webhook}/deliveries?limit=100", Ct)).JsonAsync())["items"]!.AsArray()
            .Select(d => (string)d!["eventId"]!).Order(StringComparer.Ordinal)];
}
