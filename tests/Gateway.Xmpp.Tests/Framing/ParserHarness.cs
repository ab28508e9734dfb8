using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary>Feeding helpers and a structural dump that makes event sequences comparable.</summary>
internal static class ParserHarness
{
    public const string ClientHeader =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
        "id='c2s-1' from='example.onsip.com' version='1.0' xml:lang='en'>";

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Feeds <paramref name="data"/> cut at the given byte offsets (ascending).</summary>
    public static List<XmlStreamEvent> FeedSplit(byte[] data, params int[] cuts) => FeedSplit(data, null, cuts);

    /// <summary>Feeds <paramref name="data"/> to a parser with <paramref name="limits"/>, cut at the given byte offsets (ascending).</summary>
    public static List<XmlStreamEvent> FeedSplit(byte[] data, StanzaLimits? limits, params int[] cuts)
    {
        var parser = new XmppStreamParser(limits);
        var events = new List<XmlStreamEvent>();
        int start = 0;
        foreach (int cut in cuts)
        {
            parser.Feed(data.AsSpan(start, cut - start), events);
            start = cut;
        }
        parser.Feed(data.AsSpan(start), events);
        return events;
    }

    public static List<XmlStreamEvent> FeedInChunks(byte[] data, int chunkSize, StanzaLimits? limits = null)
    {
        var parser = new XmppStreamParser(limits);
        var events = new List<XmlStreamEvent>();
        for (int i = 0; i < data.Length; i += chunkSize)
            parser.Feed(data.AsSpan(i, Math.Min(chunkSize, data.Length - i)), events);
        return events;
    }

    public static List<XmlStreamEvent> FeedWhole(string xml) => FeedSplit(Utf8(xml));

    /// <summary>The first-level elements of a client stream whose content (after the header) is <paramref name="content"/>.</summary>
    public static List<XElement> Stanzas(string content, string header = ClientHeader) =>
        FeedWhole(header + content).OfType<XmlStreamEvent.Element>().Select(e => e.Value).ToList();

    public static XElement Stanza(string xml, string header = ClientHeader) => Assert.Single(Stanzas(xml, header));

    /// <summary>Asserts the stream (header included) is refused both when fed whole and when fed one byte at a time.</summary>
    public static XmppProtocolException AssertRejected(byte[] stream)
    {
        var whole = Assert.Throws<XmppProtocolException>(() => FeedSplit(stream));
        Assert.Throws<XmppProtocolException>(() => FeedInChunks(stream, 1));
        return whole;
    }

    public static XmppProtocolException AssertRejected(string stream) => AssertRejected(Utf8(stream));

    /// <summary>Asserts that <paramref name="content"/> after a valid client header is refused.</summary>
    public static XmppProtocolException AssertContentRejected(string content) => AssertRejected(ClientHeader + content);

    public static string Dump(IEnumerable<XmlStreamEvent> events)
    {
        var sb = new StringBuilder();
        foreach (var e in events)
        {
            switch (e)
            {
                case XmlStreamEvent.StreamOpened opened:
                    sb.Append("OPEN ");
                    Dump(opened.Header, sb);
                    break;
                case XmlStreamEvent.Element element:
                    sb.Append("ELEMENT ");
                    Dump(element.Value, sb);
                    break;
                case XmlStreamEvent.StreamClosed:
                    sb.Append("CLOSE");
                    break;
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Expanded names, every attribute, text with adjacent text nodes merged (so CDATA and text compare equal).</summary>
    public static string Dump(XElement element)
    {
        var sb = new StringBuilder();
        Dump(element, sb);
        return sb.ToString();
    }

    private static void Dump(XElement element, StringBuilder sb)
    {
        sb.Append('<').Append(element.Name);
        foreach (var a in element.Attributes())
            sb.Append(' ').Append(a.Name).Append('=').Append(JsonSerializer.Serialize(a.Value));
        sb.Append('>');
        var text = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            if (node is XText t)
            {
                text.Append(t.Value);
                continue;
            }
            FlushText(text, sb);
            if (node is XElement child) Dump(child, sb);
            else sb.Append("?!").Append(node.NodeType);
        }
        FlushText(text, sb);
        sb.Append("</>");
    }

    private static void FlushText(StringBuilder text, StringBuilder sb)
    {
        if (text.Length == 0) return;
        sb.Append(JsonSerializer.Serialize(text.ToString()));
        text.Clear();
    }

    public static XElement Child(this XElement parent, XName name) =>
        parent.Element(name) ?? throw new Xunit.Sdk.XunitException($"<{parent.Name}> has no child <{name}>");

    public static readonly XNamespace Roster = "jabber:iq:roster";
    public static readonly XNamespace Delay = "urn:xmpp:delay";
    public static XName ClientName(string local) => Ns.Client + local;
}
