using System.Text;

namespace Gateway.Testing.Xmpp;

/// <summary>
/// What another account on a shared XMPP server can send to an address of ours: every shape that breaks a parser
/// limit or XML itself, and the well-formed forgeries (stray IQ replies, a fake PubSub event). Some never get past the
/// server (it drops the sender's stream); the rest reach us and must cost no more than themselves.
/// </summary>
public static class HostileStanzas
{
    public sealed record Shape(string Name, Func<string, byte[]> Build)
    {
        public override string ToString() => Name;
    }

    private static byte[] Utf8(string xml) => Encoding.UTF8.GetBytes(xml);

    private static string Attributes(int count) => string.Concat(Enumerable.Range(0, count).Select(i => $" a{i}='v'"));

    private static string Nested(int depth) => string.Concat(Enumerable.Repeat("<a>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth));

    /// <summary>A PubSub notification of a call on alice's node, forged: it comes from the stranger, not the service.</summary>
    public static string ForgedEvent(string to, string domain, string callId) =>
        $"<message to='{to}'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/{domain}/alice'>" +
        $"<item id='{callId}'><active-call xmlns='onsip:active-calls'><dialog-state>confirmed</dialog-state><call-id>{callId}</call-id>" +
        $"<from-uri>sip:alice@{domain}</from-uri><to-uri>sip:mallory@{domain}</to-uri><from-tag>f1</from-tag><to-tag>t1</to-tag>" +
        "<branch/><call-setup-id>FORGED01</call-setup-id><to-aor/><from-display/><to-display/><publish-time/></active-call></item></items></event></message>";

    public static IReadOnlyList<Shape> All(string domain) =>
    [
        new("attribute flood", to => Utf8($"<message to='{to}' type='chat'{Attributes(300)}><body>x</body></message>")),
        new("attribute flood on an IQ request", to => Utf8($"<iq type='set' id='flood' to='{to}'><command xmlns='http://jabber.org/protocol/commands' node='create'{Attributes(300)}/></iq>")),
        new("200-deep nesting", to => Utf8($"<message to='{to}'>{Nested(200)}</message>")),
        new("200-deep IQ request", to => Utf8($"<iq type='get' id='deep' to='{to}'><query xmlns='http://jabber.org/protocol/disco#info'>{Nested(200)}</query></iq>")),
        new("30,000 children", to => Utf8($"<message to='{to}'>{string.Concat(Enumerable.Repeat("<c/>", 30_000))}</message>")),
        new("250 KB text node", to => Utf8($"<message to='{to}'><body>{new string('x', 250 * 1024)}</body></message>")),
        new("2 MB stanza", to => Utf8($"<message to='{to}'><body>{new string('x', 2 * 1024 * 1024)}</body></message>")),
        new("DTD", to => Utf8($"<!DOCTYPE lolz [<!ENTITY lol 'lol'>]><message to='{to}'><body>&lol;</body></message>")),
        new("undeclared entity", to => Utf8($"<message to='{to}'><body>&xxe;</body></message>")),
        new("invalid UTF-8", to => [.. Utf8($"<message to='{to}'><body>"), 0xC3, 0x28, 0xFF, .. Utf8("</body></message>")]),
        new("stray IQ result", to => Utf8($"<iq type='result' id='{Guid.NewGuid():N}' to='{to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")),
        new("stray IQ error", to => Utf8($"<iq type='error' id='{Guid.NewGuid():N}' to='{to}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")),
        new("unknown IQ request", to => Utf8($"<iq type='get' id='version' to='{to}'><query xmlns='jabber:iq:version'/></iq>")),
        new("malformed command", to => Utf8($"<iq type='set' id='cmd' to='{to}'><command xmlns='http://jabber.org/protocol/commands' node='create'><x xmlns='jabber:x:data' type='submit'><field var='from'><value>]]&gt;&lt;x/&gt;</value><value/></field></x></command></iq>")),
        new("forged PubSub event", to => Utf8(ForgedEvent(to, domain, "forged-call-1"))),
    ];
}
