using System.Diagnostics;
using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// Upstream outages against the whole system (Prosody, the reference service, sipp phones): commands accepted while the
/// XMPP server hangs are carried out when it answers again.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class OutageEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

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
