using System.Text;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using static Gateway.Xmpp.Tests.Framing.ParserHarness;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary>What the parser refuses (RFC 6120 §11 restricted XML, well-formedness, size limits).</summary>
public class StreamRejectionTests
{
    private const string BareHeader = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

    // ---- DTDs, comments, processing instructions, entities ------------------------------------------------------

    [Fact]
    public void BillionLaughsDoctypeIsRejectedBeforeAnyEntityIsExpanded()
    {
        const string billionLaughs =
            "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>" +
            "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>" +
            "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>" +
            BareHeader + "<message><body>&lol3;</body></message>";

        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        var error = Assert.Throws<XmppProtocolException>(() => parser.Feed(Utf8(billionLaughs), events));
        Assert.Contains("DTD", error.Message, StringComparison.Ordinal);
        Assert.Empty(events);
        AssertRejected(billionLaughs);
    }

    [Theory]
    [InlineData("<!DOCTYPE stream>")]
    [InlineData("<message><!DOCTYPE x></message>")]
    [InlineData("<message><body><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;</body></message>")]
    public void DoctypeAnywhereIsRejected(string content) =>
        Assert.Contains("DTD", AssertContentRejected(content).Message, StringComparison.Ordinal);

    [Fact]
    public void DoctypeAfterTheDeclarationIsRejected() =>
        AssertRejected("<?xml version='1.0'?><!DOCTYPE stream:stream SYSTEM 'http://example.com/x.dtd'>" + BareHeader);

    [Theory]
    [InlineData("<!-- hello -->")]
    [InlineData("<message><!-- hello --></message>")]
    [InlineData("<message><body>a<!---->b</body></message>")]
    public void CommentsAreRejected(string content) =>
        Assert.Contains("Comments", AssertContentRejected(content).Message, StringComparison.Ordinal);

    [Fact]
    public void CommentBeforeTheHeaderIsRejected() => AssertRejected("<!-- hi -->" + BareHeader);

    [Theory]
    [InlineData("<?php echo 1; ?>")]
    [InlineData("<message><?target data?></message>")]
    [InlineData("<?xml version='1.0'?>")]
    public void ProcessingInstructionsAreRejected(string content) =>
        Assert.Contains("Processing instructions", AssertContentRejected(content).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData(" <?xml version='1.0'?>")]       // the declaration must come first
    [InlineData("<?xml-stylesheet href='a'?>")]
    [InlineData("<?xml version='1.0'?><?xml version='1.0'?>")]
    public void OnlyALeadingXmlDeclarationIsAllowed(string prolog) => AssertRejected(prolog + BareHeader);

    [Theory]
    [InlineData("<?xml version='1.0' encoding='ISO-8859-1'?>")]
    [InlineData("<?xml version='1.0' encoding='UTF-16'?>")]
    [InlineData("<?xml version='1.1'?>")]
    [InlineData("<?xml?>")]
    [InlineData("<?xml encoding='UTF-8'?>")]
    [InlineData("<?xml encoding='UTF-8' version='1.0'?>")]
    [InlineData("<?xml version='1.0' foo='bar'?>")]
    [InlineData("<?xml version='1.0'encoding='UTF-8'?>")]
    public void XmlDeclarationOtherThanVersion1Utf8IsRejected(string declaration) => AssertRejected(declaration + BareHeader);

    [Theory]
    [InlineData("<message><body>&foo;</body></message>")]
    [InlineData("<message><body>&lol3;</body></message>")]
    [InlineData("<message id='&foo;'/>")]
    [InlineData("<message><body>&nbsp;</body></message>")]
    public void UndeclaredEntitiesAreRejected(string content) =>
        Assert.Contains("Undeclared entity", AssertContentRejected(content).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("<message><body>fish & chips</body></message>")]
    [InlineData("<message><body>&#65</body></message>")]
    [InlineData("<message><body>&#;</body></message>")]
    [InlineData("<message><body>&#x;</body></message>")]
    [InlineData("<message><body>&#xZZ;</body></message>")]
    [InlineData("<message><body>&#X41;</body></message>")]
    [InlineData("<message><body>&;</body></message>")]
    [InlineData("<message id='&amp'/>")]
    [InlineData("<message><body>&#00000000000000000000000000000065;</body></message>")]
    public void MalformedReferencesAreRejected(string content) => AssertContentRejected(content);

    [Theory]
    [InlineData("&#0;")]
    [InlineData("&#1;")]
    [InlineData("&#x1F;")]
    [InlineData("&#xD800;")]
    [InlineData("&#xDFFF;")]
    [InlineData("&#xFFFE;")]
    [InlineData("&#xFFFF;")]
    [InlineData("&#x110000;")]
    [InlineData("&#99999999999;")]
    public void CharacterReferencesToIllegalCharactersAreRejected(string reference) =>
        AssertContentRejected($"<message><body>{reference}</body></message>");

    [Fact]
    public void LiteralCdataTerminatorInTextIsRejected()
    {
        AssertContentRejected("<message><body>a]]>b</body></message>");
        var bytes = Utf8(ClientHeader + "<message><body>a]]>b</body></message>");
        int firstBracket = Array.IndexOf(bytes, (byte)']');
        Assert.Throws<XmppProtocolException>(() => FeedSplit(bytes, firstBracket + 1));
        Assert.Throws<XmppProtocolException>(() => FeedSplit(bytes, firstBracket + 1, firstBracket + 2));
    }

    [Theory]
    [InlineData("<![CDATA[x]]>")]
    [InlineData("<message><![CDATA-x]]></message>")]
    [InlineData("<message><![cdata[x]]></message>")]
    [InlineData("<message><!ELEMENT x ANY></message>")]
    public void CdataOutsideStanzasAndOtherMarkupDeclarationsAreRejected(string content) => AssertContentRejected(content);

    // ---- Well-formedness ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData("<message><body></message>")]
    [InlineData("<message></body></message>")]
    [InlineData("<message><body></Body></message>")]
    [InlineData("<message xmlns:a='urn:x' xmlns:b='urn:x'><a:x></b:x></message>")]
    [InlineData("</stream:features>")]
    [InlineData("</stream>")]
    public void MismatchedEndTagsAreRejected(string content) => AssertContentRejected(content);

    [Theory]
    [InlineData("<message to='a'from='b'/>")]
    [InlineData("<message to=a/>")]
    [InlineData("<message to='a' / >")]
    [InlineData("<message to/>")]
    [InlineData("<message ='a'/>")]
    [InlineData("< message/>")]
    [InlineData("<1message/>")]
    [InlineData("<-message/>")]
    [InlineData("<message/ >")]
    [InlineData("<message></ message>")]
    [InlineData("<message></message extra>")]
    [InlineData("<message id='<'/>")]
    [InlineData("<message 'id'='a'/>")]
    [InlineData("<:message/>")]
    [InlineData("<message:/>")]
    [InlineData("<a:b:c xmlns:a='urn:x'/>")]
    [InlineData("<a:-b xmlns:a='urn:x'/>")]
    [InlineData("<message><body>a<b</body></message>")]
    public void MalformedTagsAreRejected(string content) => AssertContentRejected(content + "</stream:stream>");

    [Theory]
    [InlineData("<foo:message/>")]
    [InlineData("<message><p:x/></message>")]
    [InlineData("<message foo:bar='1'/>")]
    [InlineData("<xmlns:message/>")]
    public void UnboundOrReservedPrefixesAreRejected(string content) => AssertContentRejected(content);

    [Theory]
    [InlineData("<message xmlns:xml='urn:not-xml'/>")]
    [InlineData("<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>")]
    [InlineData("<message xmlns:p='http://www.w3.org/2000/xmlns/'/>")]
    [InlineData("<message xmlns='http://www.w3.org/2000/xmlns/'/>")]
    [InlineData("<message xmlns:xmlns='urn:x'/>")]
    [InlineData("<message xmlns:p=''/>")]
    public void IllegalNamespaceDeclarationsAreRejected(string content) => AssertContentRejected(content);

    [Theory]
    [InlineData("<message to='a' to='b'/>")]
    [InlineData("<message xmlns:a='urn:x' xmlns:b='urn:x' a:id='1' b:id='2'/>")]
    [InlineData("<message xmlns:a='urn:x' xmlns:a='urn:y'/>")]
    [InlineData("<message xmlns='jabber:client' xmlns='jabber:client'/>")]
    [InlineData("<message xml:lang='en' xml:lang='de'/>")]
    public void DuplicateAttributesAreRejected(string content) =>
        Assert.Contains("Duplicate attribute", AssertContentRejected(content).Message, StringComparison.Ordinal);

    // ---- Characters and encoding --------------------------------------------------------------------------------

    [Theory]
    [InlineData("C3 28")]          // lead byte followed by a non-continuation byte
    [InlineData("C0 AF")]          // overlong '/'
    [InlineData("E0 80 AF")]       // overlong, 3 bytes
    [InlineData("ED A0 80")]       // an encoded UTF-16 surrogate
    [InlineData("F4 90 80 80")]    // above U+10FFFF
    [InlineData("F8 88 80 80 80")] // 5-byte form
    [InlineData("80")]             // lone continuation byte
    [InlineData("FF")]
    [InlineData("E2 82")]          // truncated sequence followed by ASCII
    public void InvalidUtf8IsRejected(string hex)
    {
        var bad = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        var stream = Utf8(ClientHeader + "<message><body>a").Concat(bad).Concat(Utf8("b</body></message>")).ToArray();
        var error = AssertRejected(stream);
        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);

        int badAt = Utf8(ClientHeader + "<message><body>a").Length;
        for (int cut = badAt; cut <= badAt + bad.Length; cut++)
            Assert.Throws<XmppProtocolException>(() => FeedSplit(stream, cut));
    }

    [Fact]
    public void InvalidUtf8InTheHeaderIsRejected() =>
        AssertRejected(Utf8("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a").Concat(new byte[] { 0xC3, 0x28 }).Concat(Utf8("'>")).ToArray());

    [Theory]
    [InlineData("<message><body>a\u0001b</body></message>")]
    [InlineData("<message><body>a\u0000b</body></message>")]
    [InlineData("<message><body>a\u001Bb</body></message>")]
    [InlineData("<message id='a\u0008'/>")]
    [InlineData("<message><body>\uFFFE</body></message>")]
    [InlineData("<message><body>\uFFFF</body></message>")]
    [InlineData("\u0000")]
    [InlineData("<message/>\u000C")]
    public void IllegalCharactersAreRejected(string content) =>
        Assert.Contains("Illegal XML character", AssertContentRejected(content).Message, StringComparison.Ordinal);

    // ---- Stream structure ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData("<message/>")]
    [InlineData("<stream xmlns='jabber:client'>")]
    [InlineData("<stream:stream xmlns:stream='http://etherx.jabber.org/wrong'>")]
    [InlineData("<stream:stream>")]
    [InlineData("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>")]
    [InlineData("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'/>")]
    [InlineData("hello")]
    [InlineData("</stream:stream>")]
    public void FirstElementMustBeTheStreamHeader(string stream) => AssertRejected(stream);

    [Theory]
    [InlineData("hello<message/>")]
    [InlineData("<message/>hello")]
    [InlineData("<message/>&amp;")]
    public void TextAtTheStreamLevelIsRejected(string content) => AssertContentRejected(content);

    [Theory]
    [InlineData("</stream:stream><message/>")]
    [InlineData("</stream:stream>x")]
    [InlineData("</stream:stream> \n <stream:stream xmlns:stream='http://etherx.jabber.org/streams'>")]
    public void ContentAfterTheStreamCloseIsRejected(string content)
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        var error = Assert.Throws<XmppProtocolException>(() => parser.Feed(Utf8(ClientHeader + content), events));
        Assert.Contains("after the stream was closed", error.Message, StringComparison.Ordinal);
        Assert.IsType<XmlStreamEvent.StreamClosed>(events[^1]);
    }

    [Fact]
    public void EventsCompletedBeforeAViolationAreStillReported()
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        Assert.Throws<XmppProtocolException>(() => parser.Feed(Utf8(ClientHeader + "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><!-- -->"), events));
        Assert.Equal(2, events.Count);
        Assert.Equal(Ns.Stream + "error", Assert.IsType<XmlStreamEvent.Element>(events[1]).Value.Name);
    }

    [Fact]
    public void ParserIsUnusableAfterAFailure()
    {
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        Assert.Throws<XmppProtocolException>(() => parser.Feed(Utf8(ClientHeader + "<!--"), events));
        Assert.Throws<InvalidOperationException>(() => parser.Feed(" "u8, events));
    }

    [Fact]
    public void OversizedHeaderIsRejectedWhileItIsStillArriving()
    {
        const int max = 64 * 1024, chunk = 4096;
        var stream = Utf8(BareHeader[..^1] + " id='" + new string('a', 1024 * 1024) + "'>");

        int fed = FeedUntilRejected(stream, chunk, max);

        Assert.InRange(fed, max, max + chunk);
    }

    /// <summary>Feeds in chunks until the parser throws; returns how many bytes had been fed, the throwing chunk included.</summary>
    private static int FeedUntilRejected(byte[] stream, int chunk, int max)
    {
        var parser = new XmppStreamParser(new StanzaLimits { MaxBytes = max });
        var events = new List<XmlStreamEvent>();
        for (int offset = 0; offset < stream.Length; offset += chunk)
        {
            var part = stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset)).ToArray();
            try
            {
                parser.Feed(part, events);
            }
            catch (XmppProtocolException e)
            {
                Assert.Contains("larger than", e.Message, StringComparison.Ordinal);
                return offset + part.Length;
            }
        }
        Assert.Fail("the oversized element was accepted");
        return -1;
    }
}
