using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Fuzz.Targets.Xmpp;

/// <summary>
/// Turns fuzz input into stanzas the way the network does: the bytes follow a client stream header and go through
/// <see cref="XmppStreamParser"/>, so a target built on top explores the parser and the typed reader together.
/// </summary>
public static class FuzzStanzas
{
    /// <summary>The stream header every stanza target's input is appended to (a c2s stream, default namespace
    /// <c>jabber:client</c>), as our client receives it from a server.</summary>
    public const string Header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
        "id='fuzz' from='example.onsip.com' version='1.0' xml:lang='en'>";

    private static readonly byte[] HeaderBytes = Encoding.UTF8.GetBytes(Header);

    /// <summary>At most this many stanzas are taken from one input (targets that replay several).</summary>
    public const int MaxStanzas = 8;

    /// <summary>The first first-level element of the input, or null when the parser completed none (the parser's
    /// <see cref="XmppProtocolException"/> after an element does not lose that element: it was already delivered).</summary>
    public static XElement? First(ReadOnlySpan<byte> input)
    {
        var elements = Elements(input, 1);
        return elements.Count == 0 ? null : elements[0];
    }

    /// <summary>The first-level elements of the input, in order, up to <paramref name="max"/>.</summary>
    public static List<XElement> Elements(ReadOnlySpan<byte> input, int max = MaxStanzas)
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        parser.Feed(HeaderBytes, events);
        try
        {
            parser.Feed(input, events);
        }
        catch (XmppProtocolException)
        {
            // Documented: the stream is broken from here on; what was completed before still counts.
        }
        var elements = new List<XElement>();
        foreach (var e in events)
        {
            if (e is XmlStreamEvent.Element element)
            {
                elements.Add(element.Value);
                if (elements.Count == max) break;
            }
        }
        return elements;
    }
}
