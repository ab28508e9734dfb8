using System.Xml.Linq;
using ActiveCalls.Service.Tests.Support;
using Gateway.Testing.Prosody;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.Auth;

/// <summary>authorize-plain through a real Prosody, from a real c2s client, with the reference document's requests.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class AuthProsodyTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2012, 11, 13, 15, 9, 58, TimeSpan.Zero));
    private ServiceOnProsody? _service;
    private ServiceOnProsody Service => _service!;

    public async ValueTask InitializeAsync() => _service = await ServiceOnProsody.StartAsync(prosody, _time);

    public async ValueTask DisposeAsync()
    {
        if (_service is not null) await _service.DisposeAsync();
    }

    private static XElement Command(string xml) => XElement.Parse(xml);

    [Fact]
    public async Task BothReferenceRequestsAreAnsweredInTheReferenceResultShape()
    {
        var client = await Service.ClientAsync("psi");
        var me = client.LocalJid!;
        var auth = Service.Options.AuthJid;

        // §3.1, the wiki's form (the hidden jid left empty: the sender is authorised).
        var wiki = await client.SendIqAsync(auth, IqType.Set, Command("""
            <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain">
              <x xmlns="jabber:x:data" type="submit">
                <field type="text-single" var="sip-address"><value>foo@example.onsip.com</value></field>
                <field type="text-private" var="password"><value>goodpassword</value></field>
                <field type="hidden" var="jid"/>
              </x>
            </command>
            """), cancellationToken: TestContext.Current.CancellationToken);
        // §3.1 sample B: auth-for-all, with our own full JID.
        var sampleB = await client.SendIqAsync(auth, IqType.Set, Command($"""
            <command xmlns='http://jabber.org/protocol/commands' node='authorize-plain'>
              <x xmlns='jabber:x:data' type='submit'>
                <field var='sip-address'><value>hiro@example.onsip.com</value></field>
                <field var='password'><value>webpassword12345</value></field>
                <field var='auth-for-all'><value>true</value></field>
                <field var='jid'><value>{me}</value></field>
              </x>
            </command>
            """), cancellationToken: TestContext.Current.CancellationToken);

        XmlAssert.Equivalent($"""
            <iq xmlns="jabber:client" xml:lang="en" from="{auth}" type="result" id="{(string?)wiki.Attribute("id")}" to="{me}">
              <command xmlns="http://jabber.org/protocol/commands" status="completed" node="authorize-plain" sessionid="{SessionId(wiki)}">
                <note type="info">JID '{me.Bare}' has been authorized to access resources for SIP Address(es) 'foo@example.onsip.com' until 2012-11-13T16:09:58Z</note>
                <x xmlns="jabber:x:data" type="result">
                  <field type="fixed" var="expires"><value>2012-11-13T16:09:58Z</value></field>
                  <field type="fixed" var="sip"><value>foo@example.onsip.com</value></field>
                </x>
              </command>
            </iq>
            """, wiki);
        XmlAssert.Equivalent($"""
            <iq xmlns="jabber:client" xml:lang="en" from="{auth}" type="result" id="{(string?)sampleB.Attribute("id")}" to="{me}">
              <command xmlns="http://jabber.org/protocol/commands" status="completed" node="authorize-plain" sessionid="{SessionId(sampleB)}">
                <note type="info">JID '{me.Bare}' has been authorized to access resources for SIP Address(es) 'hiro@example.onsip.com,hiro_marketing@example.onsip.com' until 2012-11-13T16:09:58Z</note>
                <x xmlns="jabber:x:data" type="result">
                  <field type="fixed" var="expires"><value>2012-11-13T16:09:58Z</value></field>
                  <field type="fixed" var="sip"><value>hiro@example.onsip.com</value></field>
                  <field type="fixed" var="sip"><value>hiro_marketing@example.onsip.com</value></field>
                </x>
              </command>
            </iq>
            """, sampleB);
        Assert.Equal([TestUsers.Foo, TestUsers.Hiro, TestUsers.HiroMarketing], Service.Authorizations.AddressesFor(me).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AWrongPasswordComesBackInTheReferenceErrorShape()
    {
        var client = await Service.ClientAsync("psi");
        var me = client.LocalJid!;
        var auth = Service.Options.AuthJid;

        var error = await Assert.ThrowsAsync<XmppStanzaErrorException>(() => client.SendIqAsync(auth, IqType.Set, Command("""
            <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain">
              <x xmlns="jabber:x:data" type="submit">
                <field type="text-single" var="sip-address"><value>alice@example.com</value></field>
                <field type="text-private" var="password"><value>password</value></field>
                <field type="hidden" var="jid"/>
              </x>
            </command>
            """), cancellationToken: TestContext.Current.CancellationToken));

        XmlAssert.Equivalent($"""
            <iq xmlns="jabber:client" xml:lang="en" from="{auth}" type="error" to="{me}" id="{(string?)error.Stanza.Attribute("id")}">
              <command xmlns="http://jabber.org/protocol/commands" node="authorize-plain" sessionid="{SessionId(error.Stanza)}">
                <x xmlns="jabber:x:data" type="submit">
                  <field type="text-single" var="sip-address"><value>alice@example.com</value></field>
                  <field type="text-private" var="password"><value>password</value></field>
                  <field type="hidden" var="jid"/>
                </x>
              </command>
              <error type="modify" code="400">
                <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
                <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Execution Errors; base Authentication failed - invalid username or password.; missing response</text>
                <bad-action xmlns="http://jabber.org/protocol/commands"/>
              </error>
            </iq>
            """, error.Stanza);
        Assert.Empty(Service.Authorizations.AddressesFor(me));
    }

    private static string SessionId(XElement iq) => (string)iq.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
}
