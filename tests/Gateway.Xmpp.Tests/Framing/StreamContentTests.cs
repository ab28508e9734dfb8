using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using static Gateway.Xmpp.Tests.Framing.ParserHarness;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary>What the elements and the header contain: names, namespaces, attributes and character data.</summary>
public class StreamContentTests
{
    // ---- Header -------------------------------------------------------------------------------------------------

    [Fact]
    public void HeaderKeepsEveryAttribute()
    {
        var events = FeedWhole(
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
            "to='example.com' from='alice@example.com' id='abc' version='1.0' xml:lang='en'>");
        var header = Assert.IsType<XmlStreamEvent.StreamOpened>(Assert.Single(events)).Header;

        Assert.Equal(Ns.Stream + "stream", header.Name);
        Assert.Equal("example.com", (string?)header.Attribute("to"));
        Assert.Equal("alice@example.com", (string?)header.Attribute("from"));
        Assert.Equal("abc", (string?)header.Attribute("id"));
        Assert.Equal("1.0", (string?)header.Attribute("version"));
        Assert.Equal("en", (string?)header.Attribute(XNamespace.Xml + "lang"));
        Assert.Equal(Ns.Stream.NamespaceName, (string?)header.Attribute(XNamespace.Xmlns + "stream"));
        Assert.Equal("stream", header.GetPrefixOfNamespace(Ns.Stream));
    }

    [Theory]
    [InlineData("")]
    [InlineData("<?xml version='1.0'?>")]
    [InlineData("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")]
    [InlineData("<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n")]
    [InlineData("\uFEFF<?xml version='1.0'?>")]
    public void XmlDeclarationIsOptionalAndMayNameUtf8(string prolog)
    {
        var events = FeedWhole(prolog + "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
        Assert.IsType<XmlStreamEvent.StreamOpened>(Assert.Single(events));
    }

    [Fact]
    public void StreamPrefixIsWhateverTheHeaderBinds()
    {
        var events = FeedWhole(
            "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'>" +
            "<s:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></s:features></s:stream>");
        Assert.Equal(Ns.Stream + "stream", Assert.IsType<XmlStreamEvent.StreamOpened>(events[0]).Header.Name);
        var features = Assert.IsType<XmlStreamEvent.Element>(events[1]).Value;
        Assert.Equal(Ns.Stream + "features", features.Name);
        Assert.NotNull(features.Element(Ns.Bind + "bind"));
        Assert.IsType<XmlStreamEvent.StreamClosed>(events[2]);
    }

    [Fact]
    public void ComponentStreamHeaderMakesJabberComponentAcceptTheDefaultNamespace()
    {
        var events = FeedWhole(
            "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' " +
            "from='commands.active-calls.example.com' id='3BF96D32'>" +
            "<handshake/>" +
            "<iq type='get' id='p1' from='example.com' to='commands.active-calls.example.com'><ping xmlns='urn:xmpp:ping'/></iq>");

        var header = Assert.IsType<XmlStreamEvent.StreamOpened>(events[0]).Header;
        Assert.Equal("3BF96D32", (string?)header.Attribute("id"));
        Assert.Equal(Ns.Component + "handshake", Assert.IsType<XmlStreamEvent.Element>(events[1]).Value.Name);
        var iq = Assert.IsType<XmlStreamEvent.Element>(events[2]).Value;
        Assert.Equal(Ns.Component + "iq", iq.Name);
        Assert.NotNull(iq.Element(Ns.Ping + "ping"));
    }

    // ---- Namespaces ---------------------------------------------------------------------------------------------

    [Fact]
    public void UnprefixedElementsInheritTheStreamDefaultNamespace()
    {
        var message = Stanza("<message><body>hi</body><thread>t1</thread></message>");
        Assert.Equal(ClientName("message"), message.Name);
        Assert.Equal([ClientName("body"), ClientName("thread")], message.Elements().Select(e => e.Name));
    }

    [Fact]
    public void StreamPrefixedChildrenResolveToTheStreamNamespace()
    {
        var error = Stanza(
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>");
        Assert.Equal(Ns.Stream + "error", error.Name);
        var parsed = XmppStreamErrorException.Parse(error);
        Assert.Equal("conflict", parsed.Condition);
        Assert.Equal("Replaced by new connection", parsed.Text);
    }

    [Fact]
    public void DefaultNamespaceDeclarationAppliesToTheElementAndItsDescendantsOnly()
    {
        var iq = Stanza("<iq type='result'><query xmlns='jabber:iq:roster'><item jid='bob@example.com'><group>Friends</group></item></query><x/></iq>");
        var query = iq.Child(Roster + "query");
        Assert.Equal("Friends", query.Child(Roster + "item").Child(Roster + "group").Value);
        Assert.NotNull(iq.Element(ClientName("x")));
    }

    [Fact]
    public void PrefixedElementsAndAttributesResolveThroughTheirDeclarations()
    {
        XNamespace ev = "http://jabber.org/protocol/pubsub#event";
        var message = Stanza("<message xmlns:ps='http://jabber.org/protocol/pubsub#event'><ps:event><ps:items ps:node='a' node='b'/></ps:event></message>");
        var items = message.Child(ev + "event").Child(ev + "items");
        Assert.Equal("a", (string?)items.Attribute(ev + "node"));
        Assert.Equal("b", (string?)items.Attribute("node"));
    }

    [Fact]
    public void RedeclaredPrefixIsScopedToTheRedeclaringElement()
    {
        XNamespace a = "urn:a", b = "urn:b";
        var iq = Stanza("<iq xmlns:p='urn:a'><p:x><p:y xmlns:p='urn:b'><p:z/></p:y><p:w/></p:x><p:v/></iq>");
        var x = iq.Child(a + "x");
        Assert.NotNull(x.Child(b + "y").Element(b + "z"));
        Assert.NotNull(x.Element(a + "w"));
        Assert.NotNull(iq.Element(a + "v"));
    }

    [Fact]
    public void PrefixDeclaredInsideAStanzaDoesNotLeakIntoTheNextOne()
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        var error = Assert.Throws<XmppProtocolException>(
            () => parser.Feed(Utf8(ClientHeader + "<iq xmlns:p='urn:a'><p:x/></iq><message><p:x/></message>"), events));
        Assert.Contains("Unbound namespace prefix 'p'", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, events.Count); // the header and the iq
    }

    [Fact]
    public void DefaultNamespaceCanBeUndeclared()
    {
        var iq = Stanza("<iq><x xmlns=''><y/></x><z/></iq>");
        Assert.NotNull(iq.Child("x").Element("y"));
        Assert.NotNull(iq.Element(ClientName("z")));
    }

    [Fact]
    public void XmlPrefixIsPredefined()
    {
        var message = Stanza("<message xml:lang='de'><body xml:lang='en'>Hello</body></message>");
        Assert.Equal("de", (string?)message.Attribute(XNamespace.Xml + "lang"));
        Assert.Equal("en", (string?)message.Child(ClientName("body")).Attribute(XNamespace.Xml + "lang"));
    }

    [Fact]
    public void AttributesWithoutPrefixAreInNoNamespace()
    {
        var iq = Stanza("<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>");
        Assert.Equal("n", (string?)iq.Child(Ns.DiscoInfo + "query").Attribute(XNamespace.None + "node"));
    }

    [Fact]
    public void SerialisedStanzaHasNoSpuriousPrefixes()
    {
        var message = Stanza("<message to='bob@example.com' type='chat'><body>hi</body><x xmlns='jabber:x:data' type='submit'><field var='a'><value>1</value></field></x></message>");
        string xml = message.ToString(SaveOptions.DisableFormatting);

        Assert.Equal(
            "<message to=\"bob@example.com\" type=\"chat\" xmlns=\"jabber:client\"><body>hi</body>" +
            "<x xmlns=\"jabber:x:data\" type=\"submit\"><field var=\"a\"><value>1</value></field></x></message>",
            xml);
    }

    [Fact]
    public void SerialisedStanzasReparseToTheSameNames()
    {
        var stanzas = Stanzas(
            "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
            "<message xmlns:ps='http://jabber.org/protocol/pubsub#event'><ps:event><ps:items ps:node='a'/></ps:event><body xml:lang='en'>x</body></message>");
        foreach (var stanza in stanzas)
        {
            string xml = stanza.ToString(SaveOptions.DisableFormatting);
            Assert.DoesNotContain("p1:", xml, StringComparison.Ordinal);
            Assert.Equal(WithoutDeclarations(stanza), WithoutDeclarations(XElement.Parse(xml)));
        }

        // The serialiser may add or move xmlns declarations; the resolved names are what must survive.
        static string WithoutDeclarations(XElement element)
        {
            var copy = new XElement(element);
            copy.DescendantsAndSelf().Attributes().Where(a => a.IsNamespaceDeclaration).Remove();
            return Dump(copy);
        }
    }

    // ---- Character data -----------------------------------------------------------------------------------------

    [Fact]
    public void PredefinedEntitiesAndCharacterReferencesAreDecodedInText()
    {
        var body = Stanza("<message><body>&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x1f600;&#0000000067;&#xE9;</body></message>").Child(ClientName("body"));
        Assert.Equal("<>&\"' AB😀Cé", body.Value);
    }

    [Fact]
    public void PredefinedEntitiesAndCharacterReferencesAreDecodedInAttributes()
    {
        var message = Stanza("<message id='&lt;&#x41;&quot;&amp;&#10;' to=\"it&apos;s\"/>");
        Assert.Equal("<A\"&\n", (string?)message.Attribute("id"));
        Assert.Equal("it's", (string?)message.Attribute("to"));
    }

    [Fact]
    public void EscapedCdataTerminatorInTextIsDecoded() =>
        Assert.Equal("a]]>b", Stanza("<message><body>a]]&gt;b</body></message>").Child(ClientName("body")).Value);

    [Fact]
    public void RightAngleBracketsInTextAreAllowedWhenNotAfterTwoBrackets() =>
        Assert.Equal("a > b ]> c]>]>", Stanza("<message><body>a > b ]> c]>]></body></message>").Child(ClientName("body")).Value);

    [Fact]
    public void CdataSectionIsReadAsText()
    {
        var body = Stanza("<message><body>before <![CDATA[<b>bold</b> &amp; ]]]]><![CDATA[>]]> after</body></message>").Child(ClientName("body"));
        Assert.Equal("before <b>bold</b> &amp; ]]> after", body.Value);
        Assert.IsType<XText>(Assert.Single(body.Nodes()));
    }

    [Fact]
    public void EmptyCdataSectionAddsNothing()
    {
        var body = Stanza("<message><body><![CDATA[]]></body></message>").Child(ClientName("body"));
        Assert.Empty(body.Nodes());
    }

    [Fact]
    public void MixedContentKeepsTextAndElementsInOrder()
    {
        var p = Stanza("<message><p xmlns='urn:x'>Hello <b>big</b> world</p></message>").Child(XNamespace.Get("urn:x") + "p");
        Assert.Equal(["text:Hello ", "{urn:x}b:big", "text: world"], p.Nodes().Select(n => n is XElement e ? $"{e.Name}:{e.Value}" : $"text:{((XText)n).Value}"));
    }

    [Fact]
    public void WhitespaceInsideStanzasIsKept()
    {
        var message = Stanza("<message>\n  <body>  two  spaces  </body>\n</message>");
        Assert.Equal("  two  spaces  ", message.Child(ClientName("body")).Value);
        Assert.Equal(3, message.Nodes().Count());
    }

    [Fact]
    public void LineEndsAreNormalisedButCharacterReferencesAreNot()
    {
        var body = Stanza("<message><body>a\r\nb\rc\nd&#13;&#10;e</body></message>").Child(ClientName("body"));
        Assert.Equal("a\nb\nc\nd\r\ne", body.Value);
    }

    [Fact]
    public void CarriageReturnLineFeedSplitAcrossFeedsIsOneLineEnd()
    {
        var bytes = Utf8(ClientHeader + "<message><body>a\r\nb\r</body></message>");
        int cut = Array.IndexOf(bytes, (byte)'\n');
        var message = Assert.IsType<XmlStreamEvent.Element>(FeedSplit(bytes, cut)[1]).Value;
        Assert.Equal("a\nb\n", message.Child(ClientName("body")).Value);
    }

    [Fact]
    public void AttributeValueWhitespaceIsNormalised()
    {
        var message = Stanza("<message id='a\tb\nc\r\nd\re  f'/>");
        Assert.Equal("a b c d e  f", (string?)message.Attribute("id"));
    }

    [Fact]
    public void AngleBracketIsAllowedInAttributeValues() =>
        Assert.Equal("a>b", (string?)Stanza("<message id='a>b'/>").Attribute("id"));

    [Fact]
    public void SelfClosingStanzaIsAnElement()
    {
        var presence = Stanza("<presence />");
        Assert.Equal(ClientName("presence"), presence.Name);
        Assert.True(presence.IsEmpty);
    }
}
