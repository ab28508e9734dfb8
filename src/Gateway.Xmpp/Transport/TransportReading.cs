using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Transport;

/// <summary>The reads a negotiation makes, where every element matters and anything unexpected fails the attempt.</summary>
public static class TransportReading
{
    /// <summary>Reads the next first-level element, failing on a stream close or stream error.</summary>
    public static async ValueTask<XElement> ReadElementAsync(this IXmppTransport transport, CancellationToken cancellationToken)
    {
        var next = await transport.ReadAsync(cancellationToken);
        switch (next)
        {
            case XmlStreamEvent.Element { Value: var element } when element.Name == Ns.Stream + "error":
                throw XmppStreamErrorException.Parse(element);
            case XmlStreamEvent.Element { Value: var element }:
                return element;
            case XmlStreamEvent.StreamClosed:
                throw new XmppConnectionLostException("The peer closed the stream.");
            case XmlStreamEvent.StanzaSkipped skipped:
                // During negotiation every element matters: one we could not read fails the attempt.
                throw new XmppProtocolException($"The peer sent <{skipped.Stub?.Name.LocalName ?? "?"}> {skipped.Reason}.");
            default:
                throw new XmppProtocolException("A second stream header arrived on an open stream.");
        }
    }

    /// <summary>Reads the server's stream opening (its header's attributes: <c>id</c>, <c>version</c>, <c>from</c>).</summary>
    public static async ValueTask<XElement> ReadStreamHeaderAsync(this IXmppTransport transport, CancellationToken cancellationToken)
    {
        var next = await transport.ReadAsync(cancellationToken);
        return next switch
        {
            XmlStreamEvent.StreamOpened opened => opened.Header,
            XmlStreamEvent.Element { Value: var e } when e.Name == Ns.Stream + "error" => throw XmppStreamErrorException.Parse(e),
            _ => throw new XmppProtocolException("Expected a stream header."),
        };
    }

    /// <summary>Sends one element on its own (negotiation steps wait for each answer).</summary>
    public static Task SendAsync(this IXmppTransport transport, XElement element, CancellationToken cancellationToken) =>
        transport.SendAsync([XmppStreamWriter.Serialize(element)], closeStream: false, cancellationToken);
}
