using System.Net;
using Gateway.Api.Xmpp;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The gateway over each XMPP transport Prosody serves, chosen by <c>Gateway:Xmpp:Endpoint</c> alone: a call placed,
/// connected (its events from the PubSub subscription on that transport), its event connection killed, and hung up on
/// both phones. (Every other end-to-end test runs over TCP with <c>Host</c> and <c>Port</c>.)
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class TransportEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Theory]
    [InlineData("xmpp")]
    [InlineData("websocket")]
    [InlineData("bosh")]
    public async Task ACallIsPlacedFollowedAndHungUpOverTheTransport(string transport)
    {
        // Host and Port point nowhere: only the endpoint can lead the gateway to Prosody.
        _stack.GatewaySettings["Gateway:Xmpp:Host"] = "127.0.0.1";
        _stack.GatewaySettings["Gateway:Xmpp:Port"] = "1";
        _stack.GatewaySettings["Gateway:Xmpp:Endpoint"] = transport switch
        {
            "xmpp" => $"xmpp://{prosody.Host}:{prosody.C2sPort}",
            "websocket" => prosody.WebSocketEndpoint,
            "bosh" => prosody.BoshEndpoint,
            _ => throw new ArgumentOutOfRangeException(nameof(transport)),
        };
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));

        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");

        // The connection holding the subscription drops: XEP-0198 resumes it (TCP, WebSocket), or a new BOSH session
        // replaces it and the gateway subscribes again; either way the hang-up goes through and its events arrive.
        var pool = (XmppPool)_stack.Gateway.Services.GetRequiredService<IXmppPool>();
        ((XmppClient)pool.Clients.Receiver!).AbortConnection("killed by the test");
        var hangup = await client.DeleteAsync($"/calls/{id}", Ct);
        Assert.Equal(HttpStatusCode.Accepted, hangup.StatusCode);

        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("terminated", (string?)(await WaitForCallAsync(client, id, State("ended"), "ended"))["endReason"]);
    }
}
