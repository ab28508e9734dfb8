using System.Diagnostics;
using System.Globalization;
using System.Net;
using ActiveCalls.Sip.CallControl;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using Gateway.Testing.Sip;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// Faults against the whole system (Prosody, the reference service, sipp phones): what the gateway accepted before it
/// went away is carried out by the next process on the same calls database, and clients carry on; commands accepted
/// while the XMPP server hangs are carried out when it answers again.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class FaultEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task AHangupAcceptedWhileXmppIsDownEndsTheCallOnBothPhonesAfterTheGatewayRestartsAndTheStreamShowsItsEnd()
    {
        // The gateway reaches Prosody through a relay this test can cut, as a network or server outage would.
        var xmpp = _stack.Own(TcpRelay.Start(new Uri($"http://{prosody.Host}:{prosody.C2sPort.ToString(CultureInfo.InvariantCulture)}")));
        _stack.GatewaySettings["Gateway:Xmpp:Host"] = "127.0.0.1";
        _stack.GatewaySettings["Gateway:Xmpp:Port"] = xmpp.Port.ToString(CultureInfo.InvariantCulture);
        _stack.GatewaySettings["Gateway:Calls:IntentMaxRetryDelay"] = "00:00:02";
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        string cursor;
        await using (var stream = await SseStreamClient.OpenAsync(client, $"/calls/stream?scope=call&callId={id}"))
        {
            xmpp.Cut();
            var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
            Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);
            Assert.Equal("connected", (string?)(await hangup.JsonAsync())["state"]);
            cursor = (await stream.WaitForEventAsync(id, "call.hangup-requested"))[^1].Cursor;
        }

        // The gateway goes away with the hang-up not carried out; the phones are still talking.
        await _stack.Gateway.DisposeAsync();
        Assert.Equal(1, _stack.Service.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        xmpp.Restore();
        client = await _stack.RestartGatewayAsync();

        await using var resumed = await SseStreamClient.OpenAsync(client, $"/calls/stream?scope=call&callId={id}", lastEventId: cursor);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        var call = await WaitForCallAsync(client, id, State("ended"), "ended");
        Assert.Equal("terminated", (string?)call["endReason"]);
        await resumed.WaitForEventAsync(id, "call.ended");
        Assert.DoesNotContain(resumed.Messages, m => m.Kind == "snapshot");
        Assert.DoesNotContain("call.hangup-requested", resumed.Events(id).Select(e => e.Split(' ')[1]));
    }

    [Fact]
    public async Task ACallThatEndedUpstreamWhileTheGatewayWasDownShowsItsEndOnceItStartsAgain()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        // Bob hangs up by himself, 4 s after answering: by then the gateway is down.
        var bob = _stack.Own(await SippPhone.StartAsync("answer-hangup", "bob", "-d", "4000"));
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        await _stack.Gateway.DisposeAsync();

        await bob.AssertSucceededAsync();
        await alice.AssertSucceededAsync();
        client = await _stack.RestartGatewayAsync();

        // Two paths race, both right: Prosody kept the retractions addressed to the gateway while it was away (offline
        // storage) and hands them over after it logs in — the end is known for what it was, "completed" — or the
        // reconciliation after the new subscription finds no item first — "lost". Never "connected" for ever.
        var call = await WaitForCallAsync(client, id, State("ended"), "ended");
        Assert.True((string?)call["endReason"] is "completed" or "lost", $"ended as {call["endReason"]}");
        Assert.Equal("call.ended", (await EventsAsync(client, id))[^1]);
    }

    [Fact]
    public async Task TheSameIdempotencyKeyBeforeAndAfterARestartPlacesOneCall()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var body = $$"""{"from":"{{Alice}}","to":"{{Bob}}"}""";
        var first = await client.PostJsonAsync("/calls", body, idempotencyKey: "e2e-restart-1");
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var id = (string)(await first.JsonAsync())["id"]!;
        await WaitForCallAsync(client, id, State("connected"), "connected");

        client = await _stack.RestartGatewayAsync();
        var retried = await client.PostJsonAsync("/calls", body, idempotencyKey: "e2e-restart-1");

        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Equal("true", retried.Headers.GetValues("Idempotency-Replayed").Single());
        Assert.Equal(id, (string?)(await retried.JsonAsync())["id"]);
        Assert.Equal(1, _stack.Service.Services.GetRequiredService<ThirdPartyCallControlEngine>().ActiveCallCount);
        // The call placed before the restart is still controlled by the new process.
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("terminated", (string?)(await WaitForCallAsync(client, id, State("ended"), "ended"))["endReason"]);
    }

    [Fact]
    public async Task AHangupWhileProsodyIsFrozenLongerThanTheIqTimeoutIsAcceptedAndTheCallEndsOnBothPhonesOnceItResumes()
    {
        _stack.GatewaySettings["Gateway:Calls:IntentMaxRetryDelay"] = "00:00:02";
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");

        HttpResponseMessage hangup;
        await using (await prosody.FreezeAsync())
        {
            var answered = Stopwatch.StartNew();
            hangup = await client.DeleteAsync($"/calls/{id}", Ct);
            // Answered once the first attempt had its chance (Gateway:Calls:IntentAnswerWait), not after the IQ timeout.
            Assert.True(answered.Elapsed < TimeSpan.FromSeconds(5), $"DELETE took {answered.Elapsed}");
            // Frozen for longer than the gateway's IQ timeout (5 s in this stack): the attempt times out and is retried.
            await Task.Delay(TimeSpan.FromSeconds(7), Ct);
            Assert.Equal("connected", (string?)(await (await client.GetAsync($"/calls/{id}", Ct)).JsonAsync())["state"]);
        }

        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        var call = await WaitForCallAsync(client, id, State("ended"), "ended", seconds: 60);
        Assert.Equal("terminated", (string?)call["endReason"]);
        var events = await EventsAsync(client, id);
        Assert.Equal(1, events.Count(e => e == "call.hangup-requested"));
        Assert.DoesNotContain("call.hangup-failed", events);
    }
}
