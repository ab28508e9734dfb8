using System.Collections.Concurrent;
using System.Xml.Linq;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Tests.Integration;

/// <summary>The library against a real Prosody 0.12 (<see cref="XmppServerClientSpecification"/>), and what only Prosody
/// does: its own error for a component that is not connected, and the ack rate deploy/prosody configures.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class ProsodyClientTests(ProsodyFixture prosody) : XmppServerClientSpecification(prosody)
{
    [Fact]
    public async Task AnIqToAComponentThatIsNotConnectedFailsWithProsodysComponentUnavailableError()
    {
        var client = Own(new XmppClient(await AccountAsync()));
        await client.StartAsync(TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.SendIqAsync(
            Jid.Parse(prosody.AuthComponent), IqType.Get, new XElement(Ns.DiscoInfo + "query"), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(StanzaErrorType.Wait, error.Error.Type);
        Assert.Equal("remote-server-timeout", error.Error.Condition);
        Assert.Equal("not-connected", error.Error.ApplicationConditionName);
    }

    [Fact]
    public async Task AcksThroughProsodyStayFewAndEveryStanzaEndsUpAcknowledged()
    {
        var options = await AccountAsync();
        options.PingInterval = TimeSpan.FromSeconds(2);
        var client = Own(new XmppClient(options));
        await client.StartAsync(TestContext.Current.CancellationToken);

        const int roundTrips = 220;
        for (var i = 0; i < roundTrips; i++)
            await client.SendIqAsync(null, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: TestContext.Current.CancellationToken);

        // deploy/prosody asks for an ack after more than 10 unacknowledged stanzas (smacks_max_unacked_stanzas), not after
        // each one (Prosody's default), and the client asks once per window: a few acks per hundred round trips, not one each.
        var acks = client.StreamManagementStatistics!.Value;
        Assert.InRange(acks.AckRequestsReceived, 1, roundTrips / 11 + 2);
        Assert.InRange(acks.AcksSent, 1, acks.AckRequestsReceived);
        Assert.InRange(acks.AckRequestsSent, 1, roundTrips / StreamManagementState.AckRequestWindow + 3);
        // Once the stream is quiet the client asks for the rest by itself.
        await WaitUntilAsync(() => client.StreamManagementStatistics is { Unacked: 0 }, "every stanza is acknowledged");
        Assert.Equal(0, client.StreamManagementStatistics?.InconsistentAcks);
    }
}
