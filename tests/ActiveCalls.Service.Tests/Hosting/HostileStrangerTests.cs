using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Prosody;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Tests.Hosting;

/// <summary>
/// Anyone with an account on the XMPP server can address the three components. Against the real Prosody, a second
/// account sends every hostile shape (<see cref="HostileStanzas"/>) to each of them; afterwards the same component
/// streams are still up (never re-established) and a legitimate client is served by all three.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class HostileStrangerTests(ProsodyFixture prosody)
{
    private readonly ScriptedCallControlEngine _engine = new();

    [Fact]
    public async Task NoStanzaFromAnotherAccountCanStopTheComponentsServing()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = ServiceHosts.Build(prosody, _engine);
        await host.StartAsync(ct);
        try
        {
            var streams = host.Services.GetServices<IHostedService>().OfType<ActiveCallsComponentsHost>().Single().Streams;
            await WaitUntilAsync(() => streams.Count == 3 && streams.All(s => s.State == ConnectionState.Established), ct);
            var lifecycle = new List<XmppLifecycleEvent>();
            foreach (var stream in streams) stream.Lifecycle += (_, e) => { lock (lifecycle) lifecycle.Add(e); };
            string[] components = [prosody.ActiveCallsComponent, prosody.AuthComponent, prosody.PubSubComponent];
            var user = "mallory" + Guid.NewGuid().ToString("N")[..6];
            await prosody.RegisterAsync(user, "mallory-password-1");

            var answers = new Dictionary<string, string>();
            foreach (var shape in HostileStanzas.All(prosody.Domain))
            {
                await using var stranger = await StrangerXmppClient.ConnectAsync(prosody, user, "mallory-password-1", ct);
                foreach (var component in components) await stranger.SendAsync(shape.Build(component), ct);
                var (received, _) = await stranger.DrainAsync(TimeSpan.FromSeconds(1), ct);
                answers[shape.Name] = received;
                Assert.All(streams, s => Assert.True(s.State == ConnectionState.Established, $"after the {shape.Name}, {s.LocalJid} is {s.State}"));
            }

            Assert.Empty(lifecycle);
            Assert.All(streams, s => Assert.True(s.DroppedStanzas >= 3, $"{s.LocalJid} dropped {s.DroppedStanzas}"));
            // The requests past a limit were answered, not left hanging: policy-violation from each component.
            Assert.Equal(3, CountOf(answers["attribute flood on an IQ request"], "<policy-violation"));
            Assert.Equal(3, CountOf(answers["200-deep IQ request"], "<policy-violation"));

            // A legitimate client is served by all three.
            await using var xmpp = await ServiceHosts.ConnectClientAsync(prosody, ct);
            var commands = new AdHocCommandClient(xmpp);
            var granted = await commands.ExecuteAsync(Jid.Parse(prosody.AuthComponent), "authorize-plain",
                DataForm.Submit().Add("sip-address", "alice@activecalls.test").Add("password", "alice-dev-password").Build(), ct: ct);
            Assert.Equal(["alice@activecalls.test"], granted.Form!.GetValues("sip"));
            var created = await commands.ExecuteAsync(Jid.Parse(prosody.ActiveCallsComponent), "create",
                DataForm.Submit().Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "AbCd1234").Build(), ct: ct);
            Assert.Equal("AbCd1234", created.Form!.GetValues("call-setup-id").Single());
            var subscription = await new PubSubClient(xmpp).SubscribeAsync(Jid.Parse(prosody.PubSubComponent), "/", xmpp.LocalJid!, SubscribeOptions.ForCollection(), ct);
            Assert.Equal("/me/" + xmpp.LocalJid!.Bare, subscription.Node);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static int CountOf(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(50, ct);
        Assert.True(condition());
    }
}
