using System.Xml.Linq;
using Gateway.Testing.Ejabberd;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.Tests.Integration;

/// <summary>The library against a real ejabberd 23.01 (<see cref="XmppServerClientSpecification"/>), and where ejabberd
/// differs from Prosody (docs/xmpp-library.md, "ejabberd").</summary>
[Collection(EjabberdCollection.Name)]
public sealed class EjabberdClientTests(EjabberdFixture ejabberd) : XmppServerClientSpecification(ejabberd)
{
    [Fact]
    public async Task AnIqToAComponentThatIsNotConnectedIsRefusedAsForbiddenByServicePolicy()
    {
        var client = Own(new XmppClient(await AccountAsync()));
        await client.StartAsync(TestContext.Current.CancellationToken);

        // Nothing is routed to the name, so ejabberd would need federation to deliver it, which it refuses; unlike Prosody
        // it has no notion of a configured component that is away.
        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.SendIqAsync(
            Jid.Parse(ejabberd.AuthComponent), IqType.Get, new XElement(Ns.DiscoInfo + "query"), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(StanzaErrorType.Auth, error.Error.Type);
        Assert.Equal("forbidden", error.Error.Condition);
        Assert.Equal("Access denied by service policy", error.Error.Text);
        Assert.Null(error.Error.ApplicationCondition);
    }

    [Fact]
    public async Task EachOfTheServicesComponentsIsRoutedOnlyTheStanzasForItsOwnName()
    {
        // deploy/ejabberd gives the component listener one secret, not a list of names: with a list, every connection that
        // authenticates for one name is routed all of them, and the three components would answer each other's requests.
        string[] names = [ejabberd.ActiveCallsComponent, ejabberd.AuthComponent, ejabberd.PubSubComponent];
        foreach (var name in names)
        {
            var component = Own(new XmppComponent(ComponentOptions(name)));
            component.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", (_, _) => Task.FromResult(IqResponse.Result(
                new XElement(Ns.DiscoInfo + "query", new XElement(Ns.DiscoInfo + "identity", new XAttribute("name", name))))));
            await component.StartAsync(TestContext.Current.CancellationToken);
        }
        var client = Own(new XmppClient(await AccountAsync()));
        await client.StartAsync(TestContext.Current.CancellationToken);

        foreach (var name in names)
        {
            // Enough requests per name that a share routed to another component would show.
            for (var i = 0; i < 12; i++)
            {
                var reply = await client.SendIqAsync(Jid.Parse(name), IqType.Get, new XElement(Ns.DiscoInfo + "query"),
                    cancellationToken: TestContext.Current.CancellationToken);
                Assert.Equal(name, (string?)reply.Element(Ns.DiscoInfo + "query")?.Element(Ns.DiscoInfo + "identity")?.Attribute("name"));
            }
        }
    }
}
