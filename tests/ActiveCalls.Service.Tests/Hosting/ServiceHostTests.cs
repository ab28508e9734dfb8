using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Tests.Hosting;

/// <summary>The service as Program.cs builds it: configuration in, the components connected to a real Prosody. Only the
/// call-control engine is a scripted one here (the SIP engine has its own tests).</summary>
[Collection(ProsodyCollection.Name)]
public sealed class ServiceHostTests(ProsodyFixture prosody)
{
    private readonly ScriptedCallControlEngine _engine = new();

    private IHost Build() => ServiceHosts.Build(prosody, _engine);

    [Fact]
    public async Task TheHostedServiceConnectsBothComponentsAndPublishesWhatTheEngineReports()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = Build();
        Assert.Same(host.Services.GetRequiredService<ActiveCallsPublisher>(), host.Services.GetRequiredService<ICallLegObserver>());
        Assert.Same(host.Services.GetRequiredService<AuthorizationStore>(), host.Services.GetRequiredService<IAuthorizationStore>());
        await host.StartAsync(ct);
        try
        {
            await using var client = await ServiceHosts.ConnectClientAsync(prosody, ct);
            var auth = new Jid(null, "commands.auth." + prosody.Domain);
            var pubSub = new Jid(null, "pubsub.active-calls." + prosody.Domain);

            // The components may still be handshaking right after start: the first request is retried until they answer.
            CommandResult? result = null;
            for (var attempt = 0; result is null; attempt++)
            {
                try
                {
                    result = await new AdHocCommandClient(client).ExecuteAsync(auth, "authorize-plain",
                        DataForm.Submit().Add("sip-address", "alice@activecalls.test").Add("password", "alice-dev-password").Add("auth-for-all", true).Build(), ct: ct);
                }
                catch (XmppStanzaErrorException e) when (e.Error.Condition == "remote-server-timeout" && attempt < 50)
                {
                    await Task.Delay(100, ct);
                }
            }
            Assert.Equal(["alice@activecalls.test", "bob@activecalls.test", "carol@activecalls.test"], result.Form!.GetValues("sip"));

            using var events = new PubSubEventReader(client, pubSub);
            await new PubSubClient(client).SubscribeAsync(pubSub, "/", client.LocalJid!, SubscribeOptions.ForCollection(), ct);
            await host.Services.GetRequiredService<ICallLegObserver>().LegUpdatedAsync(new CallLeg("leg-1", "bob@activecalls.test", LegState.Requested,
                "call-1", "sip:alice@activecalls.test", "sip:bob@activecalls.test", "ft", null, "z9hG4bK1", "bob@activecalls.test", null, null, null,
                DateTimeOffset.UtcNow), ct);

            var received = new List<PubSubEvent>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await foreach (var e in events.ReadAllAsync(timeout.Token))
            {
                received.Add(e);
                if (e is PubSubEvent.ItemsPublished) break;
            }
            var published = received.OfType<PubSubEvent.ItemsPublished>().Single();
            Assert.Equal(("/activecalls.test/bob", "leg-1"), (published.Node, published.Items.Single().Id));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TheHostedServiceServesTheCommandComponentWithTheRegisteredEngine()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = Build();
        await host.StartAsync(ct);
        try
        {
            await using var client = await ServiceHosts.ConnectClientAsync(prosody, ct);
            var commands = new AdHocCommandClient(client);
            var jid = new Jid(null, "commands.active-calls." + prosody.Domain);

            CommandResult? result = null;
            for (var attempt = 0; result is null; attempt++)
            {
                try
                {
                    result = await commands.ExecuteAsync(jid, "create", DataForm.Submit()
                        .Add("from", "sip:alice@activecalls.test").Add("to", "sip:bob@activecalls.test").Add("call-setup-id", "AbCd1234").Build(), ct: ct);
                }
                catch (XmppStanzaErrorException e) when (e.Error.Condition == "remote-server-timeout" && attempt < 50)
                {
                    await Task.Delay(100, ct);
                }
            }

            Assert.Equal(CommandStatus.Completed, result.Status);
            Assert.Equal("AbCd1234", result.Form!.GetValue("call-setup-id"));
            var create = Assert.IsType<CreateCall>(_engine.SingleCall);
            Assert.Equal(("sip:alice@activecalls.test", "sip:bob@activecalls.test", "AbCd1234"), (create.Setup.From, create.Setup.To, create.Setup.CallSetupId));
            Assert.Equal(4, (await commands.ListCommandsAsync(jid, ct)).Count);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }
}
