using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using static Gateway.Xmpp.Tests.Framing.ParserHarness;

namespace Gateway.Xmpp.Tests.Framing;

/// <summary>
/// A first-level element past a <see cref="StanzaLimits"/> limit costs only itself: it is reported as
/// <see cref="XmlStreamEvent.StanzaSkipped"/> (with what names it) and the stream goes on with the next stanza. Every
/// shape is checked fed whole and fed one byte at a time.
/// </summary>
public sealed class StanzaLimitTests
{
    private static readonly StanzaLimits Small = new() { MaxBytes = 4096, MaxDepth = 16, MaxAttributes = 32, MaxTextChars = 2048, MaxChildren = 64 };

    private static string Attributes(int n) => string.Concat(Enumerable.Range(0, n).Select(i => $" a{i}=''"));

    private static string Nested(int depth) => string.Concat(Enumerable.Repeat("<a>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth));

    /// <summary>The events after the header of <paramref name="content"/>, asserting that whole and byte-by-byte feeding agree.</summary>
    private static List<XmlStreamEvent> Events(string content, StanzaLimits? limits = null)
    {
        var bytes = Utf8(ClientHeader + content);
        var whole = FeedSplit(bytes, limits);
        var bytewise = FeedInChunks(bytes, 1, limits);
        Assert.Equal(Describe(whole), Describe(bytewise));
        Assert.IsType<XmlStreamEvent.StreamOpened>(whole[0]);
        return whole[1..];
    }

    private static List<string> Describe(IEnumerable<XmlStreamEvent> events) => [.. events.Select(e => e switch
    {
        XmlStreamEvent.Element element => element.Value.ToString(SaveOptions.DisableFormatting),
        XmlStreamEvent.StanzaSkipped skipped => $"skipped {skipped.Stub?.ToString(SaveOptions.DisableFormatting)} {skipped.Bytes} {skipped.Reason}",
        _ => e.GetType().Name,
    })];

    /// <summary>Asserts the events are one skip (of a stanza named <paramref name="stub"/>) and then <c>&lt;presence/&gt;</c>.</summary>
    private static XmlStreamEvent.StanzaSkipped AssertSkippedThenPresence(List<XmlStreamEvent> events, string? stub)
    {
        Assert.Equal(2, events.Count);
        var skipped = Assert.IsType<XmlStreamEvent.StanzaSkipped>(events[0]);
        Assert.Equal(stub, skipped.Stub?.ToString(SaveOptions.DisableFormatting));
        Assert.Equal(Ns.Client + "presence", Assert.IsType<XmlStreamEvent.Element>(events[1]).Value.Name);
        return skipped;
    }

    [Fact]
    public void AnAttributeFloodSkipsThatStanzaAloneAndNamesItsSender()
    {
        var content = $"<message from='mallory@example.com/x' type='chat'{Attributes(300)} id='m1'><body>hi</body></message><presence/>";

        var skipped = AssertSkippedThenPresence(Events(content),
            "<message from=\"mallory@example.com/x\" id=\"m1\" type=\"chat\" xmlns=\"jabber:client\" />");

        Assert.Equal("more than 256 attributes on <message>", skipped.Reason);
        Assert.Equal(Encoding.UTF8.GetByteCount(content) - "<presence/>".Length, skipped.Bytes);
    }

    [Fact]
    public void ExactlyTheMaximumNumberOfAttributesIsAccepted()
    {
        var events = Events($"<message{Attributes(Small.MaxAttributes)}/>", Small);
        Assert.Equal(Small.MaxAttributes, Assert.IsType<XmlStreamEvent.Element>(Assert.Single(events)).Value.Attributes().Count());
    }

    [Fact]
    public void AnAttributeFloodOnANestedElementSkipsTheWholeStanza()
    {
        var events = Events($"<iq type='get' id='q1' from='mallory@example.com/x'><query xmlns='urn:x'><item{Attributes(40)}/></query></iq><presence/>", Small);
        AssertSkippedThenPresence(events, "<iq from=\"mallory@example.com/x\" id=\"q1\" type=\"get\" xmlns=\"jabber:client\" />");
    }

    [Fact]
    public void NestingDeeperThanTheLimitSkipsTheStanza()
    {
        var skipped = AssertSkippedThenPresence(Events($"<message id='deep'>{Nested(200)}</message><presence/>"),
            "<message id=\"deep\" xmlns=\"jabber:client\" />");
        Assert.Equal("elements nested more than 128 deep", skipped.Reason);
    }

    [Fact]
    public void NestingUpToTheLimitIsAccepted()
    {
        var stanza = Assert.IsType<XmlStreamEvent.Element>(Assert.Single(Events(Nested(Small.MaxDepth), Small))).Value;
        Assert.Equal(Small.MaxDepth, stanza.DescendantsAndSelf().Count());
    }

    [Fact]
    public void MoreChildrenThanTheLimitSkipTheStanza()
    {
        var children = string.Concat(Enumerable.Repeat("<c/>", Small.MaxChildren + 1));
        var skipped = AssertSkippedThenPresence(Events($"<message id='wide'>{children}</message><presence/>", Small),
            "<message id=\"wide\" xmlns=\"jabber:client\" />");
        Assert.Equal("more than 64 children in <message>", skipped.Reason);

        var atTheLimit = Events($"<message>{string.Concat(Enumerable.Repeat("<c/>", Small.MaxChildren))}</message>", Small);
        Assert.Equal(Small.MaxChildren, Assert.IsType<XmlStreamEvent.Element>(Assert.Single(atTheLimit)).Value.Elements().Count());
    }

    [Theory]
    [InlineData("<message id='t'><body>{0}</body></message>")]
    [InlineData("<message id='t'><body><![CDATA[{0}]]></body></message>")]
    [InlineData("<message id='t'><body>x&amp;{0}&lt;</body></message>")]
    public void CharacterDataLongerThanTheLimitSkipsTheStanza(string shape)
    {
        var skipped = AssertSkippedThenPresence(Events(string.Format(shape, new string('x', 3000)) + "<presence/>", Small),
            "<message id=\"t\" xmlns=\"jabber:client\" />");
        Assert.Equal("character data longer than 2048 chars", skipped.Reason);
    }

    [Fact]
    public void AStanzaOfExactlyTheMaximumSizeIsAcceptedAndOneByteMoreIsSkipped()
    {
        string stanza = "<message><body>" + new string('x', 2000) + "Grüße 🎉</body></message>";
        int size = Encoding.UTF8.GetByteCount(stanza);
        var fits = new StanzaLimits { MaxBytes = size };
        var tooSmall = new StanzaLimits { MaxBytes = size - 1 };

        Assert.IsType<XmlStreamEvent.Element>(Assert.Single(Events(stanza, fits)));
        var skipped = Assert.IsType<XmlStreamEvent.StanzaSkipped>(Assert.Single(Events(stanza, tooSmall)));
        Assert.Equal($"larger than {size - 1} bytes", skipped.Reason);
    }

    [Fact]
    public void AnOversizedStanzaIsReadToItsEndWithoutBeingKept()
    {
        var limits = new StanzaLimits { MaxBytes = 64 * 1024 };
        var parser = new XmppStreamParser(limits);
        var events = new List<XmlStreamEvent>();
        const string start = "<message from='mallory@example.com/x' id='big'><body>", end = "</body></message>";
        parser.Feed(Utf8(ClientHeader + start), events);
        var chunk = Enumerable.Repeat((byte)'a', 4096).ToArray();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 512; i++) parser.Feed(chunk, events); // 2 MiB of text
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        parser.Feed(Utf8(end + "<presence/>"), events);

        // Kept, 2 MiB of text would be 4 MiB of chars; skipped, only the 64 KiB read before the limit was ever held.
        Assert.InRange(allocated, 0, 512 * 1024);
        long size = start.Length + 512 * 4096 + end.Length;
        Assert.Equal(["StreamOpened", $"skipped <message from=\"mallory@example.com/x\" id=\"big\" xmlns=\"jabber:client\" /> {size} larger than 65536 bytes", "<presence xmlns=\"jabber:client\" />"],
            Describe(events));
    }

    [Fact]
    public void AnOversizedStartTagIsSkippedByItsName()
    {
        var bytes = Utf8(ClientHeader + "<message id='" + new string('a', 8000) + "'/><presence/>");
        // Arriving slowly, it is refused before its attributes are read; arriving at once, it is refused complete.
        var slowly = AssertSkippedThenPresence(FeedInChunks(bytes, 1, Small)[1..], "<message xmlns=\"jabber:client\" />");
        var atOnce = AssertSkippedThenPresence(FeedSplit(bytes, Small)[1..], $"<message id=\"{new string('a', 8000)}\" xmlns=\"jabber:client\" />");
        Assert.Equal("larger than 4096 bytes", slowly.Reason);
        Assert.Equal(slowly.Bytes, atOnce.Bytes);
    }

    /// <summary>Markup characters inside quotes, CDATA and references must not end the skip early or late.</summary>
    [Theory]
    [InlineData("<message id='m'{0}><x a='/>' b=\"</message>\"/><![CDATA[</message><presence/>]]>&lt;/message&gt;<y/></message>")]
    [InlineData("<message id='m'{0}><x><y a='>'>text with ]] and > in it</y></x><![CDATA[]]]]><z/></message>")]
    [InlineData("<message id='m'{0}/>")]
    [InlineData("<message id='m'{0} />")]
    public void TheSkipEndsExactlyWhereTheStanzaEnds(string shape)
    {
        var content = string.Format(shape, Attributes(40)) + "<presence/>";
        var bytes = Utf8(ClientHeader + content);
        var expected = Describe(FeedSplit(bytes, Small));
        AssertSkippedThenPresence(Events(content, Small), "<message id=\"m\" xmlns=\"jabber:client\" />");
        // Every single cut point gives the same events.
        for (int cut = 1; cut < bytes.Length; cut++) Assert.Equal(expected, Describe(FeedSplit(bytes, Small, cut)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void AStanzaPastTheSizeLimitInTheMiddleOfEveryKindOfTokenIsSkippedCleanly(int chunk)
    {
        // The size limit falls at each byte of the tail in turn: inside a quoted value, a reference, a nested start tag,
        // text, CDATA, an empty tag and the end tag. Whatever was in progress, the next stanza is read intact.
        var stanza = "<message id='m' pad='" + new string('p', 1100) + "' a='x&gt;y'><b c=\"d\">t&amp;u<![CDATA[v]]>w</b><e/></message>";
        var bytes = Utf8(ClientHeader + stanza + "<presence/>");
        for (int max = stanza.IndexOf(" a=", StringComparison.Ordinal); max < stanza.Length; max++)
        {
            var events = FeedInChunks(bytes, chunk, new StanzaLimits { MaxBytes = max });
            Assert.Equal(3, events.Count);
            Assert.Equal(stanza.Length, Assert.IsType<XmlStreamEvent.StanzaSkipped>(events[1]).Bytes);
            Assert.Equal(Ns.Client + "presence", Assert.IsType<XmlStreamEvent.Element>(events[2]).Value.Name);
        }
    }

    [Fact]
    public void ASkippedIqResultKeepsWhatMatchesItToItsRequest()
    {
        var events = Events($"<iq xmlns='jabber:client' type='result' id='r1' from='pubsub.example.com'><x{Attributes(40)}/></iq><presence/>", Small);
        AssertSkippedThenPresence(events, "<iq from=\"pubsub.example.com\" id=\"r1\" type=\"result\" xmlns=\"jabber:client\" />");
    }

    [Theory]
    [InlineData("<message{0}><!-- comment --></message>", "Comments are not allowed")]
    [InlineData("<message{0}><!ENTITY x 'y'></message>", "Markup declarations are not allowed")]
    [InlineData("<message{0}><?pi x?></message>", "Processing instructions are not allowed")]
    public void BrokenXmlInsideASkippedStanzaStillEndsTheStream(string shape, string error)
    {
        var content = string.Format(shape, Attributes(40));
        var rejected = AssertRejected(Utf8(ClientHeader + content), Small);
        Assert.Contains(error, rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8InsideASkippedStanzaStillEndsTheStream()
    {
        var bytes = Utf8(ClientHeader + $"<message{Attributes(40)}><body>").Concat(new byte[] { 0xC3, 0x28 }).Concat(Utf8("</body></message>")).ToArray();
        AssertRejected(bytes, Small);
    }

    [Fact]
    public void TheStreamHeaderHasNoSecondChance()
    {
        var header = ClientHeader[..^1] + Attributes(40) + ">";
        Assert.Contains("Stream header refused: more than 32 attributes", AssertRejected(Utf8(header), Small).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(StanzaLimits.MaxBytes), 1023)]
    [InlineData(nameof(StanzaLimits.MaxDepth), 7)]
    [InlineData(nameof(StanzaLimits.MaxAttributes), 15)]
    [InlineData(nameof(StanzaLimits.MaxTextChars), 1023)]
    [InlineData(nameof(StanzaLimits.MaxChildren), 15)]
    public void LimitsTooSmallForRealStanzasAreRefused(string limit, int value)
    {
        var limits = new StanzaLimits();
        typeof(StanzaLimits).GetProperty(limit)!.SetValue(limits, value);
        var error = Assert.Throws<ArgumentException>(() => new XmppStreamParser(limits));
        Assert.Contains(limit, error.Message, StringComparison.Ordinal);
    }

    private static XmppProtocolException AssertRejected(byte[] stream, StanzaLimits limits)
    {
        var whole = Assert.Throws<XmppProtocolException>(() => FeedSplit(stream, limits));
        Assert.Throws<XmppProtocolException>(() => FeedInChunks(stream, 1, limits));
        return whole;
    }
}
