using ActiveCalls.Service.Auth;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Fakes;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static ActiveCalls.Service.Tests.Support.EndToEndClients;

namespace ActiveCalls.Service.Tests.Hosting;

/// <summary>A subscriber authorised and subscribed before the service restarts is still authorised and subscribed after it:
/// the next item published reaches it without it doing anything.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class RestartTests(ProsodyFixture prosody) : RestartTestBase(prosody)
{
    [Fact]
    public async Task SubscriptionsAndAuthorisationsSurviveARestartAndTheSubscriberKeepsReceivingNotifications()
    {
        var ct = TestContext.Current.CancellationToken;
        var pubSubJid = new Jid(null, "pubsub.active-calls." + Prosody.Domain);
        XmppClient client;
        PubSubEventReader events;
        using (var first = ServiceHosts.Build(Prosody, new ScriptedCallControlEngine(), Database))
        {
            await first.StartAsync(ct);
            (client, _, events) = await AuthorisedSubscriberAsync(Prosody, Owned);
            await first.StopAsync(ct);
        }
        using var reader = events;
        var subscriber = client.LocalJid!;

        using var second = ServiceHosts.Build(Prosody, new ScriptedCallControlEngine(), Database);
        await second.StartAsync(ct);
        var pubSub = second.Services.GetRequiredService<ActiveCallsPubSubComponent>();
        var subscription = Assert.Single(pubSub.Subscriptions);
        Assert.Equal((subscriber, "/me/" + subscriber.Bare), (subscription.Jid, subscription.Node));
        Assert.True(second.Services.GetRequiredService<IAuthorizationStore>().IsAuthorized(subscriber, "bob@activecalls.test"));

        // Reading the collection's items needs the grant; retried while the restarted component is still handshaking.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Assert.Empty(await new PubSubClient(client).GetItemsAsync(pubSubJid, "/me/" + subscriber.Bare, cancellationToken: ct));
                break;
            }
            catch (XmppStanzaErrorException e) when (e.Error.Condition == "remote-server-timeout" && attempt < 50)
            {
                await Task.Delay(100, ct);
            }
        }
        var item = new ActiveCallItem { DialogState = ActiveCallDialogState.Requested, CallId = "after-restart", FromUri = "sip:alice@activecalls.test", ToUri = "sip:bob@activecalls.test" };
        Assert.True(await pubSub.PublishAsync("bob@activecalls.test", "item-1", item, ct));
        var seen = await CollectAsync(events, [], s => s.Count > 0);
        Assert.Equal("requested /activecalls.test/bob", seen[0].ToString());
        Assert.Equal("after-restart", seen[0].Item!.CallId);
        await second.StopAsync(ct);
    }
}
