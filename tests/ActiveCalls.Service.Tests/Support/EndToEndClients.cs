using Gateway.Testing;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>What the end-to-end tests do as an XMPP client of the whole service: log in, authorise and subscribe, run
/// commands, and collect the Active-Calls events.</summary>
internal static class EndToEndClients
{
    /// <summary>A started client on a fresh account, disposed with <paramref name="owned"/>.</summary>
    public static async Task<XmppClient> ClientAsync(IXmppServerFixture server, List<IAsyncDisposable> owned)
    {
        var client = await ServiceHosts.ConnectClientAsync(server, TestContext.Current.CancellationToken);
        owned.Add(client);
        return client;
    }

    /// <summary>A client authorised for alice's addresses (auth-for-all: alice, bob, carol) and subscribed to its JID's
    /// collection via "/", with a reader of its events.</summary>
    public static async Task<(XmppClient Client, AdHocCommandClient Commands, PubSubEventReader Events)> AuthorisedSubscriberAsync(
        IXmppServerFixture server, List<IAsyncDisposable> owned)
    {
        var client = await ClientAsync(server, owned);
        var commands = new AdHocCommandClient(client);
        var pubSub = new Jid(null, "pubsub.active-calls." + server.Domain);
        await ExecuteAsync(commands, new Jid(null, "commands.auth." + server.Domain), "authorize-plain",
            DataForm.Submit().Add("sip-address", "alice@activecalls.test").Add("password", "alice-dev-password").Add("auth-for-all", true).Build());
        var events = new PubSubEventReader(client, pubSub);
        await new PubSubClient(client).SubscribeAsync(pubSub, "/", client.LocalJid!, SubscribeOptions.ForCollection(), TestContext.Current.CancellationToken);
        return (client, commands, events);
    }

    /// <summary>The first request after start may reach a component that is still handshaking; the server then answers for
    /// it (Prosody: remote-server-timeout; ejabberd: forbidden, "Access denied by service policy").</summary>
    public static async Task<CommandResult> ExecuteAsync(AdHocCommandClient commands, Jid to, string node, DataForm form)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return await commands.ExecuteAsync(to, node, form, ct: TestContext.Current.CancellationToken); }
            catch (XmppStanzaErrorException e) when (IsComponentNotConnected(e.Error) && attempt < 50)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
    }

    /// <summary>The server answered for a component that is not connected (yet, or again after a restart).</summary>
    public static bool IsComponentNotConnected(StanzaError error) =>
        error.Condition == "remote-server-timeout" || (error.Condition == "forbidden" && error.Text == "Access denied by service policy");

    public sealed record Seen(string Kind, string Node, string ItemId, ActiveCallItem? Item)
    {
        public override string ToString() => Kind == "retract" ? $"retract {Node}" : $"{Item!.DialogStateText} {Node}";
    }

    public static async Task<List<Seen>> CollectAsync(PubSubEventReader events, List<Seen> seen, Func<List<Seen>, bool> until)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        if (until(seen)) return seen;
        await foreach (var e in events.ReadAllAsync(timeout.Token))
        {
            switch (e)
            {
                case PubSubEvent.ItemsPublished published:
                    foreach (var item in published.Items)
                        seen.Add(new Seen("publish", item.Node ?? published.Node, item.Id, ActiveCallItem.TryParse(item, out var call) ? call : null));
                    break;
                case PubSubEvent.ItemsRetracted retracted:
                    foreach (var id in retracted.ItemIds) seen.Add(new Seen("retract", retracted.Node, id, null));
                    break;
            }
            if (until(seen)) break;
        }
        return seen;
    }
}
