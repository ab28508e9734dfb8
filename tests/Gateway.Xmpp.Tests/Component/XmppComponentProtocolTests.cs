// The scripted peer bounds every read with its own timeout, so these calls do not take the test's token.
#pragma warning disable xUnit1051
using System.Xml.Linq;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Component;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tests.Fakes;

namespace Gateway.Xmpp.Tests.Component;

public sealed class XmppComponentProtocolTests : IAsyncLifetime
{
    private readonly FakeXmppServer _server = new();
    private XmppComponent? _component;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_component is not null) await _component.DisposeAsync();
        await _server.DisposeAsync();
    }

    private XmppComponent Create(string secret = "s3cret") => _component = new XmppComponent(new XmppComponentOptions
    {
        ComponentJid = Jid.Parse("commands.active-calls.example.com"),
        Secret = secret,
        Host = "127.0.0.1",
        Port = _server.Port,
        MaxInitialAttempts = 1,
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
    });

    private async Task<(XmppComponent Component, FakePeer Peer)> ConnectAsync()
    {
        var component = Create();
        var accept = _server.AcceptAsync();
        var start = component.StartAsync();
        var peer = await accept;
        await peer.OpenStreamAsync("", ns: "jabber:component:accept");
        await peer.ReadElementAsync();
        await peer.SendAsync("<handshake/>");
        await start;
        return (component, peer);
    }

    [Fact]
    public void HandshakeIsTheLowerCaseHexSha1OfStreamIdThenSecret() =>
        Assert.Equal("7a98dc4c9e92493d7fd66a25364c862637789c45", XmppComponent.Handshake("3BF96D32", "sesame"));


    [Fact]
    public async Task TheComponentOpensAnAcceptStreamAndAuthenticatesWithTheHandshake()
    {
        var component = Create();
        var accept = _server.AcceptAsync();
        var start = component.StartAsync();
        await using var peer = await accept;

        var header = await peer.OpenStreamAsync("", ns: "jabber:component:accept", id: "3BF96D32");
        Assert.Equal("commands.active-calls.example.com", (string?)header.Attribute("to"));
        Assert.Equal("jabber:component:accept", header.GetDefaultNamespace().NamespaceName);
        var handshake = await peer.ReadElementAsync();
        Assert.Equal(XName.Get("handshake", "jabber:component:accept"), handshake.Name);
        Assert.Equal(XmppComponent.Handshake("3BF96D32", "s3cret"), handshake.Value);
        await peer.SendAsync("<handshake/>");
        await start;
        Assert.Equal(ConnectionState.Established, component.State);
    }

    [Fact]
    public async Task AWrongSecretIsFatal()
    {
        var component = Create("wrong");
        var accept = _server.AcceptAsync();
        var start = component.StartAsync();
        await using var peer = await accept;
        await peer.OpenStreamAsync("", ns: "jabber:component:accept");
        await peer.ReadElementAsync();
        await peer.SendAsync("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");

        var error = await Assert.ThrowsAsync<XmppStreamErrorException>(() => start);
        Assert.Equal("not-authorized", error.Condition);
        Assert.True(component.IsFatal(error));
    }

    [Fact]
    public async Task RequestsToTheComponentAreHandledAndRepliesCarryTheComponentAsSender()
    {
        var (component, peer) = await ConnectAsync();
        await using var __ = peer;
        using var _ = component.RegisterIqHandler(IqType.Set, Ns.Commands + "command", (request, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.Commands + "command",
                new XAttribute("node", (string)request.Payload.Attribute("node")!), new XAttribute("status", "completed")))));

        await peer.SendAsync("<iq type='set' id='create-1' from='alice@example.com/psi' to='commands.active-calls.example.com'><command xmlns='http://jabber.org/protocol/commands' node='create'/></iq>");
        var reply = await peer.ReadElementAsync();
        Assert.Equal("result", (string?)reply.Attribute("type"));
        Assert.Equal("create-1", (string?)reply.Attribute("id"));
        Assert.Equal("alice@example.com/psi", (string?)reply.Attribute("to"));
        Assert.Equal("commands.active-calls.example.com", (string?)reply.Attribute("from"));
        Assert.Equal("completed", (string?)reply.Element(Ns.Commands + "command")?.Attribute("status"));

        // Something the component does not serve gets service-unavailable, from the component.
        await peer.SendAsync("<iq type='get' id='v1' from='alice@example.com/psi' to='commands.active-calls.example.com'><query xmlns='jabber:iq:version'/></iq>");
        var refusal = await peer.ReadElementAsync();
        Assert.Equal("error", (string?)refusal.Attribute("type"));
        Assert.Equal("commands.active-calls.example.com", (string?)refusal.Attribute("from"));
    }

    [Fact]
    public async Task OutboundStanzasAreStampedWithTheComponentAddress()
    {
        var (component, peer) = await ConnectAsync();
        await using var __ = peer;

        await component.SendAsync(new XElement("message", new XAttribute("to", "alice@example.com"), new XElement("body", "hi")));
        var message = await peer.ReadElementAsync();
        Assert.Equal("commands.active-calls.example.com", (string?)message.Attribute("from"));
    }


    [Fact]
    public async Task WhatAReplysFollowUpSendsIsWrittenAfterTheReply()
    {
        var (component, peer) = await ConnectAsync();
        await using var _ = peer;
        using var handler = component.RegisterIqHandler(IqType.Set, Ns.PubSub + "pubsub", (request, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.PubSub + "pubsub")) with
            {
                AfterReply = token => component.SendAsync(new XElement("message", new XAttribute("to", request.From!.ToString()),
                    new XElement("body", "after the result")), token),
            }));

        await peer.SendAsync("<iq type='set' id='sub1' from='alice@example.com/psi' to='commands.active-calls.example.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'/></iq>");

        var first = await peer.ReadElementAsync();
        var second = await peer.ReadElementAsync();
        Assert.Equal(("iq", "result", "sub1"), (first.Name.LocalName, (string?)first.Attribute("type"), (string?)first.Attribute("id")));
        Assert.Equal("message", second.Name.LocalName);
        Assert.Equal("after the result", second.Value);
    }

    [Fact]
    public async Task AFollowUpDoesNotRunWhenTheReplyHadToBeReplacedByAnError()
    {
        var (component, peer) = await ConnectAsync();
        await using var _ = peer;
        var ran = false;
        using var handler = component.RegisterIqHandler(IqType.Set, Ns.PubSub + "pubsub", (_, _) =>
            Task.FromResult(IqResponse.Result(new XElement(Ns.PubSub + "pubsub", "\u0001 cannot be carried by XML")) with
            {
                AfterReply = _ => { ran = true; return Task.CompletedTask; },
            }));

        await peer.SendAsync("<iq type='set' id='sub1' from='alice@example.com/psi' to='commands.active-calls.example.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'/></iq>");
        var reply = await peer.ReadElementAsync();
        await peer.SendAsync("<iq type='get' id='p1' from='alice@example.com/psi' to='commands.active-calls.example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
        await peer.ReadElementAsync();

        Assert.Equal("error", (string?)reply.Attribute("type"));
        Assert.Equal("internal-server-error", StanzaError.FromStanza(reply).Condition);
        Assert.False(ran);
    }
}
