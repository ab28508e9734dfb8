using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using static Gateway.Xmpp.Tests.Framing.ParserHarness;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary>How a stream is cut into events, whatever way its bytes arrive.</summary>
public class StreamFramingTests
{
    /// <summary>What a Prosody c2s stream looks like (pretty much verbatim), with the gateway's PubSub traffic.</summary>
    private const string ProsodyStream =
        "<?xml version='1.0'?>" +
        "<stream:stream xmlns='jabber:client' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' " +
        "id='c2s-7f3a1b9e-52c1-4d7b-9a43' from='example.onsip.com' version='1.0'>" +
        "<stream:features>" +
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" +
        "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
        "<mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>" +
        "</mechanisms></stream:features>" +
        "<iq type='result' id='bind_1' to='alice@example.onsip.com/gw'>" +
        "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.onsip.com/gw</jid></bind></iq>" +
        "\n" +
        "<message from='pubsub.example.onsip.com' to='alice@example.onsip.com/gw' id='evt-42' xml:lang='fr'>" +
        "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/me/active-calls'><item id='call-1'>" +
        "<active-call xmlns='onsip:active-calls'><call-id>a84b4c76e66710@pc33.atlanta.com</call-id>" +
        "<from-uri>sip:bob@example.com</from-uri><from-display>Zoë &amp; Bob 🎉</from-display>" +
        "<state>ringing</state></active-call></item></items></event>" +
        "<headers xmlns='http://jabber.org/protocol/shim'>" +
        "<header name='pubsub#subid'>ba49252aaa4f5d320c24d3766f0bdcade78c78d3</header>" +
        "<header name='Collection'>/me</header></headers>" +
        "<delay xmlns='urn:xmpp:delay' stamp='2024-05-01T12:00:00Z'/></message>" +
        " " +
        "<presence from='bob@example.onsip.com/desk'><show>away</show><status>Out &lt;lunch&gt;</status></presence>" +
        "\n\t " +
        "</stream:stream>";

    private static readonly byte[] ProsodyBytes = Utf8(ProsodyStream);

    [Fact]
    public void ProsodyStreamFedWholeYieldsHeaderStanzasAndClose()
    {
        var events = FeedSplit(ProsodyBytes);

        Assert.Equal(6, events.Count);
        var header = Assert.IsType<XmlStreamEvent.StreamOpened>(events[0]).Header;
        Assert.Equal(Ns.Stream + "stream", header.Name);
        Assert.Equal("c2s-7f3a1b9e-52c1-4d7b-9a43", (string?)header.Attribute("id"));
        Assert.Equal("example.onsip.com", (string?)header.Attribute("from"));
        Assert.Equal("1.0", (string?)header.Attribute("version"));
        Assert.Equal("en", (string?)header.Attribute(XNamespace.Xml + "lang"));
        Assert.Equal("jabber:client", header.GetDefaultNamespace().NamespaceName);
        Assert.Empty(header.Nodes());

        var features = Assert.IsType<XmlStreamEvent.Element>(events[1]).Value;
        Assert.Equal(Ns.Stream + "features", features.Name);
        Assert.NotNull(features.Child(Ns.Tls + "starttls").Element(Ns.Tls + "required"));
        Assert.Equal(
            ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"],
            features.Child(Ns.Sasl + "mechanisms").Elements(Ns.Sasl + "mechanism").Select(m => m.Value));

        var iq = Assert.IsType<XmlStreamEvent.Element>(events[2]).Value;
        Assert.Equal(ClientName("iq"), iq.Name);
        Assert.Equal("alice@example.onsip.com/gw", iq.Child(Ns.Bind + "bind").Child(Ns.Bind + "jid").Value);

        var message = Assert.IsType<XmlStreamEvent.Element>(events[3]).Value;
        Assert.Equal(ClientName("message"), message.Name);
        Assert.Equal("fr", (string?)message.Attribute(XNamespace.Xml + "lang"));
        var item = message.Child(Ns.PubSubEvent + "event").Child(Ns.PubSubEvent + "items").Child(Ns.PubSubEvent + "item");
        var call = item.Child(Ns.ActiveCalls + "active-call");
        Assert.Equal("Zoë & Bob 🎉", call.Child(Ns.ActiveCalls + "from-display").Value);
        Assert.Equal("ringing", call.Child(Ns.ActiveCalls + "state").Value);
        var headers = message.Child(Ns.Shim + "headers").Elements(Ns.Shim + "header").ToDictionary(h => (string)h.Attribute("name")!, h => h.Value);
        Assert.Equal("ba49252aaa4f5d320c24d3766f0bdcade78c78d3", headers["pubsub#subid"]);
        Assert.Equal("/me", headers["Collection"]);
        Assert.Equal("2024-05-01T12:00:00Z", (string?)message.Child(Delay + "delay").Attribute("stamp"));

        var presence = Assert.IsType<XmlStreamEvent.Element>(events[4]).Value;
        Assert.Equal("Out <lunch>", presence.Child(ClientName("status")).Value);

        Assert.IsType<XmlStreamEvent.StreamClosed>(events[5]);
    }

    [Fact]
    public void StanzasAreDetachedFromEachOtherAndFromTheHeader()
    {
        var events = FeedSplit(ProsodyBytes);
        Assert.All(events.OfType<XmlStreamEvent.Element>(), e => Assert.Null(e.Value.Parent));
        Assert.All(events.OfType<XmlStreamEvent.Element>(), e => Assert.Null(e.Value.Document));
    }

    [Fact]
    public void ProsodyStreamSplitAtEveryBytePositionYieldsTheSameEvents()
    {
        string expected = Dump(FeedSplit(ProsodyBytes));
        for (int cut = 0; cut <= ProsodyBytes.Length; cut++)
            Assert.Equal(expected, Dump(FeedSplit(ProsodyBytes, cut)));
    }

    [Fact]
    public void ProsodyStreamFedOneByteAtATimeYieldsTheSameEvents() =>
        Assert.Equal(Dump(FeedSplit(ProsodyBytes)), Dump(FeedInChunks(ProsodyBytes, 1)));

    [Fact]
    public void ProsodyStreamCutAtRandomPlacesYieldsTheSameEvents()
    {
        string expected = Dump(FeedSplit(ProsodyBytes));
        var random = new Random(6120);
        for (int round = 0; round < 200; round++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 30)).Select(_ => random.Next(ProsodyBytes.Length + 1)).Order().ToArray();
            Assert.Equal(expected, Dump(FeedSplit(ProsodyBytes, cuts)));
        }
    }

    [Fact]
    public void StanzasMatchWhatXDocumentBuildsFromTheSameText()
    {
        // The whole stream is also a well-formed document, so the framework's own parser is an oracle.
        var document = XDocument.Parse(ProsodyStream, LoadOptions.PreserveWhitespace);
        var events = FeedSplit(ProsodyBytes);

        var header = Assert.IsType<XmlStreamEvent.StreamOpened>(events[0]).Header;
        Assert.Equal(
            document.Root!.Attributes().Select(a => $"{a.Name}={a.Value}"),
            header.Attributes().Select(a => $"{a.Name}={a.Value}"));
        Assert.Equal(
            document.Root.Elements().Select(Dump),
            events.OfType<XmlStreamEvent.Element>().Select(e => Dump(e.Value)));
    }

    [Fact]
    public void EveryEventIsReportedByTheByteThatCompletesIt()
    {
        // No read-ahead: after <proceed/> or <success/> the server sends nothing until we act on it.
        string[] endings = ["version='1.0'>", "</stream:features>", "</iq>", "</message>", "</presence>", "</stream:stream>"];
        var expectedEnds = new HashSet<int>();
        int from = 0;
        foreach (var ending in endings)
        {
            int charEnd = ProsodyStream.IndexOf(ending, from, StringComparison.Ordinal) + ending.Length;
            expectedEnds.Add(Encoding.UTF8.GetByteCount(ProsodyStream.AsSpan(0, charEnd)));
            from = charEnd;
        }

        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        for (int i = 0; i < ProsodyBytes.Length; i++)
        {
            int before = events.Count;
            parser.Feed(ProsodyBytes.AsSpan(i, 1), events);
            Assert.Equal(expectedEnds.Contains(i + 1) ? before + 1 : before, events.Count);
        }
    }

    [Fact]
    public void StanzaSplitAtEveryByteYieldsTheSameElement()
    {
        const string stanza =
            "<message to='zoë@example.com' xmlns:x='urn:example:x' x:flag='&#x2713;'>" +
            "<body>Grüße, 日本 &amp; 🎉 &lt;&#65;&#x1F600;&gt;\r\nline two\rline three</body>" +
            "<x:data a = \"1\"  b='tab\there'><![CDATA[<raw> & ]]]]><![CDATA[>]]> tail</x:data>" +
            "<empty/></message>";
        var bytes = Utf8(ClientHeader + stanza);
        string expected = Dump(FeedSplit(bytes));
        Assert.Contains("ELEMENT", expected, StringComparison.Ordinal);

        for (int cut = 0; cut <= bytes.Length; cut++)
            Assert.Equal(expected, Dump(FeedSplit(bytes, cut)));
        Assert.Equal(expected, Dump(FeedInChunks(bytes, 1)));
    }

    [Theory]
    [InlineData("é")]          // 2 bytes
    [InlineData("日本")]        // 3 bytes each
    [InlineData("🎉👍🏽")]      // 4 bytes each (surrogate pairs)
    [InlineData("aé日🎉z")]
    public void MultiByteCharactersSplitAcrossFeedsAreDecoded(string text)
    {
        var bytes = Utf8(ClientHeader + $"<message id='{text}'><body>{text}</body></message>");
        for (int cut = ClientHeader.Length; cut <= bytes.Length; cut++)
        {
            var message = Assert.IsType<XmlStreamEvent.Element>(FeedSplit(bytes, cut)[1]).Value;
            Assert.Equal(text, message.Child(ClientName("body")).Value);
            Assert.Equal(text, (string?)message.Attribute("id"));
        }
    }

    [Fact]
    public void NonAsciiNamesAreAccepted()
    {
        var element = Stanza("<message><café xmlns='urn:example' été='oui'/></message>");
        var cafe = element.Child(XNamespace.Get("urn:example") + "café");
        Assert.Equal("oui", (string?)cafe.Attribute("été"));
    }

    [Fact]
    public void WhitespaceKeepalivesBetweenStanzasAreIgnored()
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        parser.Feed(Utf8(ClientHeader), events);
        parser.Feed(" "u8, events);
        parser.Feed("\n"u8, events);
        parser.Feed(" \t\r\n "u8, events);
        Assert.Single(events);

        parser.Feed("<presence/>  "u8, events);
        parser.Feed(" "u8, events);
        Assert.Equal(2, events.Count);
        Assert.Equal(ClientName("presence"), Assert.IsType<XmlStreamEvent.Element>(events[1]).Value.Name);
    }

    [Fact]
    public void WhitespaceBeforeTheHeaderAndAfterTheCloseIsIgnored()
    {
        var events = FeedWhole("\n <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'></stream:stream>\n ");
        Assert.IsType<XmlStreamEvent.StreamOpened>(events[0]);
        Assert.IsType<XmlStreamEvent.StreamClosed>(events[1]);
        Assert.Equal(2, events.Count);
    }

    [Fact]
    public void PendingBytesCountsTheBytesSinceTheLastEvent()
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        Assert.Equal(0, parser.PendingBytes);

        parser.Feed(Utf8(ClientHeader[..10]), events);
        Assert.Equal(10, parser.PendingBytes);
        parser.Feed(Utf8(ClientHeader[10..]), events);
        Assert.Equal(0, parser.PendingBytes);

        parser.Feed("<message><body>"u8, events);
        Assert.Equal(15, parser.PendingBytes);
        parser.Feed([0xC3], events); // first byte of 'é', still inside the decoder
        Assert.Equal(16, parser.PendingBytes);
        parser.Feed([0xA9], events);
        Assert.Equal(17, parser.PendingBytes);
        parser.Feed("</body></message><iq"u8, events);
        Assert.Equal(3, parser.PendingBytes);
        Assert.Equal(2, events.Count);

        parser.Feed(" type='get'/>  "u8, events);
        Assert.Equal(2, parser.PendingBytes); // white space is not an event
    }

    [Fact]
    public void ManySmallStanzasInOneFeedAreAllReportedInOrder()
    {
        var sb = new StringBuilder(ClientHeader);
        for (int i = 0; i < 5000; i++) sb.Append("<message id='m").Append(i).Append("'><body>hello ").Append(i).Append("</body></message>");
        var events = FeedSplit(Utf8(sb.ToString()));

        var ids = events.OfType<XmlStreamEvent.Element>().Select(e => (string?)e.Value.Attribute("id")).ToList();
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => $"m{i}"), ids);
    }

    [Fact]
    public void LimitAppliesPerElementNotToTheStream()
    {
        var sb = new StringBuilder(ClientHeader);
        for (int i = 0; i < 200; i++) sb.Append("<message><body>").Append('x', 900).Append("</body></message>");
        var events = FeedInChunks(Utf8(sb.ToString()), 3000, new StanzaLimits { MaxBytes = 1024 });
        Assert.Equal(201, events.Count);
    }

    [Fact]
    public void LargeStanzaWithinTheLimitIsReassembledFromManyFeeds()
    {
        string payload = string.Concat(Enumerable.Repeat("0123456789abcdef", 40_000)); // 640 KB of base64-like text
        var bytes = Utf8(ClientHeader + $"<iq type='set'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>{payload}</BINVAL></PHOTO></vCard></iq>");
        var events = FeedInChunks(bytes, 1500, new StanzaLimits { MaxTextChars = payload.Length });
        var iq = Assert.IsType<XmlStreamEvent.Element>(events[1]).Value;
        Assert.Equal(payload, iq.Descendants(XNamespace.Get("vcard-temp") + "BINVAL").Single().Value);
    }
}
