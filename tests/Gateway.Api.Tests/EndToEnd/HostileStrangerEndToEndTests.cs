using System.Net;
using Gateway.Api.Xmpp;
using Gateway.Testing.Prosody;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Client;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The XMPP server is shared: any other account can address the gateway's connections. Against the real Prosody, a
/// second account sends every hostile shape (<see cref="HostileStanzas"/>) to each pooled connection of a running
/// gateway; afterwards the same connections are still up (never re-established), nothing forged reached call state,
/// and a normal call connects.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class HostileStrangerEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task NoStanzaFromAnotherAccountCanStopTheGatewayPlacingCalls()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var pool = ((XmppPool)_stack.Gateway.Services.GetRequiredService<IXmppPool>()).Clients;
        var connections = pool.Connections.ToList();
        var targets = connections.Select(c => c.LocalJid!.ToString()).ToList();
        var established = new List<XmppLifecycleEvent>();
        foreach (var connection in connections) connection.Lifecycle += (_, e) => { lock (established) established.Add(e); };
        var user = "mallory" + Guid.NewGuid().ToString("N")[..6];
        await prosody.RegisterAsync(user, "mallory-password-1");

        var cutOff = new List<string>();
        foreach (var shape in HostileStanzas.All(prosody.Domain))
        {
            // A fresh session per shape: the server throws the sender out for the shapes that break XML.
            await using var stranger = await StrangerXmppClient.ConnectAsync(prosody, user, "mallory-password-1", Ct);
            foreach (var target in targets) await stranger.SendAsync(shape.Build(target), Ct);
            var (_, closed) = await stranger.DrainAsync(TimeSpan.FromSeconds(1), Ct);
            if (closed) cutOff.Add(shape.Name);
            Assert.All(connections, c => Assert.True(c.State == ConnectionState.Established, $"after the {shape.Name}, {c.LocalJid} is {c.State}"));
        }

        // Prosody itself refuses the shapes that break XML or its own stanza size limit: they never reach the gateway.
        Assert.Equal(["2 MB stanza", "DTD", "undeclared entity", "invalid UTF-8"], cutOff);
        // Everything else reached the gateway and was dropped there, stanza by stanza, never by dropping the stream.
        Assert.Empty(established);
        Assert.True(connections.Sum(c => c.DroppedStanzas) >= 2 * 6, $"dropped: {connections.Sum(c => c.DroppedStanzas)}");
        Assert.Equal("Healthy", (string?)(await (await client.GetAsync("/health/ready", Ct)).JsonAsync())["status"]);
        // The forged event did not become a call.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/calls/forged-call-1", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/calls/FORGED01", Ct)).StatusCode);

        var id = await CreateCallAsync(client, Alice, Bob);
        await WaitForCallAsync(client, id, State("connected"), "connected");
        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/calls/{id}", Ct)).StatusCode);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
    }
}
