using System.Xml.Linq;

namespace Gateway.Xmpp.Framing;

/// <summary>What the incremental parser yields from one XML stream.</summary>
public abstract record XmlStreamEvent
{
    private XmlStreamEvent() { }

    /// <summary>The opening <c>&lt;stream:stream&gt;</c> tag: an element with its attributes and namespace declarations, no children.</summary>
    public sealed record StreamOpened(XElement Header) : XmlStreamEvent;

    /// <summary>A complete first-level child of the stream (a stanza, features, SASL/TLS/SM nonza…), detached.</summary>
    public sealed record Element(XElement Value) : XmlStreamEvent;

    /// <summary>A first-level element that went past a <see cref="StanzaLimits"/> limit and was read to its end without
    /// being kept. <paramref name="Stub"/> is its name with whichever of <c>from</c>, <c>to</c>, <c>id</c> and
    /// <c>type</c> could be read (null when not even the name could be); <paramref name="Bytes"/> its raw size.</summary>
    public sealed record StanzaSkipped(XElement? Stub, string Reason, long Bytes) : XmlStreamEvent;

    /// <summary>The closing <c>&lt;/stream:stream&gt;</c>.</summary>
    public sealed record StreamClosed : XmlStreamEvent;
}
