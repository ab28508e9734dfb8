using System.Buffers;
using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary><see cref="XmppStreamWriter.Serialize"/> reuses one XmlWriter per thread: each stanza must come out exactly as a
/// fresh writer would write it, whatever was serialised (or failed to serialise) before.</summary>
public class StreamWriterTests
{
    private static readonly XNamespace Ping = "urn:xmpp:ping";
    private static readonly XNamespace Disco = "http://jabber.org/protocol/disco#info";

    private static string Fresh(XElement element)
    {
        var buffer = new ArrayBufferWriter<byte>();
        XmppStreamWriter.Write(element, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Reused(XElement element) => Encoding.UTF8.GetString(XmppStreamWriter.Serialize(element));

    private static XElement Iq(string id, XElement payload) =>
        new("iq", new XAttribute("type", "get"), new XAttribute("id", id), new XAttribute("to", "example.com"), payload);

    [Fact]
    public void ConsecutiveStanzasMatchAFreshWriter()
    {
        XElement[] stanzas =
        [
            Iq("1", new XElement(Ping + "ping")),
            Iq("2", new XElement(Ping + "ping")),
            new XElement("message", new XAttribute("to", "a@example.com"), new XElement("body", "x < y & \"z\" ]]> '")),
            Iq("3", new XElement(Disco + "query", new XAttribute("node", "n"), new XElement(Disco + "identity"))),
            new XElement("presence", new XElement("priority", 0)),
            Iq("4", new XElement(Ping + "ping")),
        ];
        foreach (var stanza in stanzas) Assert.Equal(Fresh(stanza), Reused(stanza));
    }

    [Fact]
    public void NamespaceDeclarationsDoNotCarryOverToTheNextStanza()
    {
        Reused(Iq("1", new XElement(Ping + "ping")));
        Assert.Contains("xmlns=\"urn:xmpp:ping\"", Reused(Iq("2", new XElement(Ping + "ping"))), StringComparison.Ordinal);
    }

    [Fact]
    public void AFailedStanzaLeavesNoTraceInTheNext()
    {
        var bad = new XElement("message", new XElement("body", "bell \u0007"));
        Assert.Throws<ArgumentException>(() => XmppStreamWriter.Serialize(bad));
        var next = Iq("5", new XElement(Ping + "ping"));
        Assert.Equal(Fresh(next), Reused(next));
    }

    [Fact]
    public void ALargeStanzaIsFollowedByCorrectSmallOnes()
    {
        var large = new XElement("message", new XElement("body", new string('x', 200_000)));
        Assert.Equal(Fresh(large), Reused(large));
        var small = Iq("6", new XElement(Ping + "ping"));
        Assert.Equal(Fresh(small), Reused(small));
    }

    [Fact]
    public void ThreadsDoNotShareOutput()
    {
        var results = new string[8][];
        Parallel.For(0, results.Length, t =>
        {
            results[t] = new string[200];
            for (var i = 0; i < results[t].Length; i++) results[t][i] = Reused(Iq($"{t}-{i}", new XElement(Ping + "ping")));
        });
        for (var t = 0; t < results.Length; t++)
        for (var i = 0; i < results[t].Length; i++)
            Assert.Equal(Fresh(Iq($"{t}-{i}", new XElement(Ping + "ping"))), results[t][i]);
    }
}
