using System.Xml.Linq;

namespace Gateway.Xmpp.Core;

/// <summary>The XML namespaces this library speaks.</summary>
public static class Ns
{
    public static readonly XNamespace Client = "jabber:client";
    public static readonly XNamespace Component = "jabber:component:accept";
    public static readonly XNamespace Stream = "http://etherx.jabber.org/streams";
    public static readonly XNamespace Streams = "urn:ietf:params:xml:ns:xmpp-streams";
    public static readonly XNamespace Stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
    public static readonly XNamespace Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    public static readonly XNamespace Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    public static readonly XNamespace Bind = "urn:ietf:params:xml:ns:xmpp-bind";
    public static readonly XNamespace Session = "urn:ietf:params:xml:ns:xmpp-session";
    public static readonly XNamespace StreamManagement = "urn:xmpp:sm:3";
    public static readonly XNamespace Ping = "urn:xmpp:ping";
    public static readonly XNamespace DiscoInfo = "http://jabber.org/protocol/disco#info";
    public static readonly XNamespace DiscoItems = "http://jabber.org/protocol/disco#items";
    public static readonly XNamespace DataForms = "jabber:x:data";
    public static readonly XNamespace Commands = "http://jabber.org/protocol/commands";
    public static readonly XNamespace PubSub = "http://jabber.org/protocol/pubsub";
    public static readonly XNamespace PubSubEvent = "http://jabber.org/protocol/pubsub#event";
    public static readonly XNamespace PubSubErrors = "http://jabber.org/protocol/pubsub#errors";
    public static readonly XNamespace Shim = "http://jabber.org/protocol/shim";
    public static readonly XNamespace ActiveCalls = "onsip:active-calls";
}
