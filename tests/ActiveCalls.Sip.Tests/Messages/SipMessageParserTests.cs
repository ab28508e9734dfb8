using ActiveCalls.Sip.Messages;
using static ActiveCalls.Sip.Tests.Messages.Wire;

namespace ActiveCalls.Sip.Tests.Messages;

/// <summary>RFC 3261 §7 parsing, with RFC 4475-style torture messages written for this stack.</summary>
public class SipMessageParserTests
{
    private const string Sdp = """
        v=0
        o=alice 2890844526 2890844526 IN IP4 192.0.2.10
        s=-
        c=IN IP4 192.0.2.10
        t=0 0
        m=audio 49170 RTP/AVP 0
        a=rtpmap:0 PCMU/8000

        """;

    private static SipRequest Request(string text) => Assert.IsType<SipRequest>(SipMessageParser.Parse(Bytes(text)));

    private static SipResponse Response(string text) => Assert.IsType<SipResponse>(SipMessageParser.Parse(Bytes(text)));

    private static SipParseException Rejected(string text) => Assert.Throws<SipParseException>(() => SipMessageParser.Parse(Bytes(text)));

    [Fact]
    public void AnInviteWithAnSdpBodyParsesIntoItsParts()
    {
        var request = Request($"""
            INVITE sip:bob@biloxi.example.com SIP/2.0
            Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport
            Max-Forwards: 70
            To: Bob <sip:bob@biloxi.example.com>
            From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774
            Call-ID: a84b4c76e66710@pc33.atlanta.example.com
            CSeq: 314159 INVITE
            Contact: <sip:alice@pc33.atlanta.example.com:5066>
            Content-Type: application/sdp
            Content-Length: {"{CL}"}

            {Sdp}
            """);

        Assert.Equal("INVITE", request.Method);
        Assert.Equal("bob", request.RequestUri.User);
        Assert.Equal("biloxi.example.com", request.RequestUri.Host);
        var via = request.TopVia;
        Assert.Equal("UDP", via.Transport);
        Assert.Equal("pc33.atlanta.example.com", via.Host);
        Assert.Equal(5066, via.Port);
        Assert.Equal("z9hG4bK776asdhds", via.Branch);
        Assert.True(via.HasRport);
        Assert.Null(via.Rport);
        Assert.Equal(70, request.MaxForwards);
        Assert.Equal("Bob", request.To.DisplayName);
        Assert.Null(request.To.Tag);
        Assert.Equal("Alice Liddell", request.From.DisplayName);
        Assert.Equal("1928301774", request.From.Tag);
        Assert.Equal("a84b4c76e66710@pc33.atlanta.example.com", request.CallId);
        Assert.Equal(new CSeqHeader(314159, "INVITE"), request.CSeq);
        Assert.Equal(5066, Assert.Single(request.Contacts).Uri.Port);
        Assert.Equal("application/sdp", request.ContentType);
        Assert.Equal(Sdp.ReplaceLineEndings("\r\n"), request.BodyText);
    }

    [Fact]
    public void CompactHeaderFormsAreReadUnderTheirLongNames()
    {
        var request = Request("""
            OPTIONS sip:carol@chicago.example.com SIP/2.0
            v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKcompact
            i: compact-1@192.0.2.4
            f: <sip:dave@example.com>;tag=88
            t: sip:carol@chicago.example.com
            CSeq: 1 OPTIONS
            m: <sip:dave@192.0.2.4>
            k: timer, 100rel
            s: hello
            o: presence
            e: identity
            c: text/plain
            l: 5

            hello
            """);

        Assert.Equal("compact-1@192.0.2.4", request.CallId);
        Assert.Equal("88", request.From.Tag);
        Assert.Equal("carol", request.To.Uri.User);
        Assert.Equal("z9hG4bKcompact", request.TopVia.Branch);
        Assert.Equal(["timer", "100rel"], request.Headers.GetValues("Supported"));
        Assert.Equal("hello", request.Headers["Subject"]);
        Assert.Equal("presence", request.Headers["Event"]);
        Assert.Equal("identity", request.Headers["Content-Encoding"]);
        Assert.Equal("text/plain", request.ContentType);
        Assert.Equal("hello", request.BodyText);
        Assert.All(request.Headers, h => Assert.True(h.Name.Length > 1, h.Name));
    }

    [Fact]
    public void FoldedHeadersOddSpacingAndMixedCaseNamesAreUnderstood()
    {
        // After RFC 4475 §3.1.1.1 "wsinv": whitespace everywhere the grammar allows it, folding, mixed-case names.
        var request = Request("""
            INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
            TO :
             sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
            from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>
              ;
              tag = 98asjd8
            MaX-fOrWaRdS: 0068
            Call-ID: wsinv.ndaksdj@192.0.2.1
            Content-Length   : 0
            cseq: 0009
              INVITE
            Via  : SIP  /   2.0
             /UDP
                192.0.2.2;branch=390skdjuw
            s :
            NewFangledHeader:   newfangled value
             continued newfangled value
            UnknownHeaderWithUnusualValue: ;;,,;;,;
            Route:
             <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
            v:  SIP  / 2.0  / TCP     spindle.example.com   ;
              branch  =   z9hG4bK9ikj8  ,
             SIP  /    2.0   / UDP  192.168.255.111   ; branch=
             z9hG4bK30239
            m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
                  newvalue ;
              secondparam ; q = 0.33

            """);

        Assert.Equal("1918181833n", request.To.Tag);
        Assert.Equal("vivekg", request.To.Uri.User);
        Assert.Equal("J Rosenberg \\\"", request.From.DisplayName);
        Assert.Equal("98asjd8", request.From.Tag);
        Assert.Equal(68, request.MaxForwards);
        Assert.Equal(new CSeqHeader(9, "INVITE"), request.CSeq);
        Assert.Equal("", request.Headers["Subject"]);
        Assert.Equal("newfangled value continued newfangled value", request.Headers["newfangledheader"]);
        Assert.Equal(";;,,;;,;", request.Headers["UnknownHeaderWithUnusualValue"]);
        var route = Assert.Single(request.Routes);
        Assert.True(route.Uri.IsLooseRouter);
        Assert.Equal("value", route.Uri.Parameters["unknownwith"]);

        var vias = request.Vias;
        Assert.Equal(3, vias.Count);
        Assert.Equal(("UDP", "192.0.2.2", "390skdjuw"), (vias[0].Transport, vias[0].Host, vias[0].Branch));
        Assert.Equal(("TCP", "spindle.example.com", "z9hG4bK9ikj8"), (vias[1].Transport, vias[1].Host, vias[1].Branch));
        Assert.Equal(("UDP", "192.168.255.111", "z9hG4bK30239"), (vias[2].Transport, vias[2].Host, vias[2].Branch));

        var contact = Assert.Single(request.Contacts);
        Assert.Equal("Quoted string \"\"", contact.DisplayName);
        Assert.Equal("newvalue", contact.Parameters["newparam"]);
        Assert.True(contact.Parameters.Contains("secondparam"));
        Assert.Equal("0.33", contact.Parameters["q"]);
    }

    [Fact]
    public void EscapedAndSemicolonUserPartsAreUnescaped()
    {
        // After RFC 4475 §3.1.1.10/§3.1.1.2: escapes in the user part, a ';' inside it, an escaped '@'.
        var request = Request("""
            INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
            To: sip:%75se%72@example.com
            From: <sip:I%20have%20spaces@example.net>;tag=938
            Max-Forwards: 87
            i: esc01.239409asdfakjkn23onasd0-3234
            CSeq: 234234 INVITE
            Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
            Contact: <sip:user;par=u%40example.net@example.com>
            l: 0

            """);

        Assert.Equal("sips:user@example.com", request.RequestUri.User);
        Assert.Equal("example.net", request.RequestUri.Host);
        Assert.Equal("user", request.To.Uri.User);
        Assert.Equal("I have spaces", request.From.Uri.User);
        var contact = Assert.Single(request.Contacts).Uri;
        Assert.Equal("user;par=u@example.net", contact.User);
        Assert.Equal("example.com", contact.Host);
        Assert.Empty(contact.Parameters);
    }

    [Fact]
    public void RepeatedAndCommaSeparatedHeadersKeepTheirOrder()
    {
        var response = Response("""
            SIP/2.0 200 OK
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb;received=192.0.2.9
            Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKc;rport=6000
            Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
            Record-Route: <sip:p3.example.com;lr>
            From: <sip:a@example.com>;tag=1
            To: <sip:b@example.com>;tag=2
            Call-ID: multi@10.0.0.1
            CSeq: 1 INVITE
            Contact: "B, the callee" <sip:b@10.0.0.9>;expires=60, <sip:b@10.0.0.10>
            Content-Length: 0

            """);

        Assert.Equal(["z9hG4bKa", "z9hG4bKb", "z9hG4bKc"], response.Vias.Select(v => v.Branch));
        Assert.Equal("192.0.2.9", response.Vias[1].Received);
        Assert.Equal(6000, response.Vias[2].Rport);
        Assert.Equal(["p1.example.com", "p2.example.com", "p3.example.com"], response.RecordRoutes.Select(r => r.Uri.Host));
        Assert.Equal(["B, the callee", null], response.Contacts.Select(c => c.DisplayName));
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("OK", response.ReasonPhrase);
    }

    [Fact]
    public void TheBodyIsExactlyContentLengthBytesAndWithoutItTheRestOfTheDatagram()
    {
        const string head = "MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n" +
                            "To: <sip:b@example.com>\r\nCall-ID: body@h\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n";
        var shorter = SipMessageParser.Parse(head + "Content-Length: 3\r\n\r\nabcdef")!;
        Assert.Equal("abc", shorter.BodyText);

        var missing = SipMessageParser.Parse(head + "\r\nabc\r\ndef")!;
        Assert.Equal("abc\r\ndef", missing.BodyText);

        var utf8 = SipMessageParser.Parse(head + "Content-Length: 4\r\n\r\n\u00e9\u00e9")!;
        Assert.Equal("\u00e9\u00e9", utf8.BodyText);

        var tooLong = Assert.Throws<SipParseException>(() => SipMessageParser.Parse(head + "Content-Length: 9999\r\n\r\nabc"));
        Assert.True(tooLong.IsRequest);
        Assert.NotNull(tooLong.RequestHeaders);
        Assert.Equal(400, tooLong.SuggestedStatus);

        Assert.Throws<SipParseException>(() => SipMessageParser.Parse(head + "Content-Length: -3\r\n\r\nabc"));
    }

    [Fact]
    public void BareLineFeedsAndLeadingBlankLinesAreTolerated()
    {
        var m = SipMessageParser.Parse("\r\n\r\nOPTIONS sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: lf\nCSeq: 2 OPTIONS\n\n");
        Assert.Equal("lf", Assert.IsType<SipRequest>(m).CallId);
    }

    [Theory]
    [InlineData("\r\n\r\n")]
    [InlineData("\r\n")]
    [InlineData("  ")]
    public void AKeepAliveIsNotAMessage(string datagram) => Assert.Null(SipMessageParser.Parse(datagram));

    [Fact]
    public void ARequestWithoutCallIdCannotBeAnswered()
    {
        var e = Rejected("""
            INVITE sip:b@example.com SIP/2.0
            Via: SIP/2.0/UDP h;branch=z9hG4bK1
            From: <sip:a@example.com>;tag=1
            To: <sip:b@example.com>
            CSeq: 1 INVITE

            """);
        Assert.True(e.IsRequest);
        Assert.Equal("INVITE", e.Method);
        Assert.Null(e.RequestHeaders);
    }

    [Fact]
    public void ACSeqMethodMismatchIsABadRequestThatCanBeAnswered()
    {
        // RFC 4475 §3.1.2.? "cseqmismatch"-style.
        var e = Rejected("""
            OPTIONS sip:b@example.com SIP/2.0
            Via: SIP/2.0/UDP h;branch=z9hG4bK1
            From: <sip:a@example.com>;tag=1
            To: <sip:b@example.com>
            Call-ID: mismatch
            CSeq: 1 INVITE

            """);
        Assert.Equal(400, e.SuggestedStatus);
        Assert.NotNull(e.RequestHeaders);
        Assert.Contains("CSeq", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownSipVersionGets505()
    {
        var e = Rejected("""
            OPTIONS sip:b@example.com SIP/7.0
            Via: SIP/2.0/UDP h;branch=z9hG4bK1
            From: <sip:a@example.com>;tag=1
            To: <sip:b@example.com>
            Call-ID: v7
            CSeq: 1 OPTIONS

            """);
        Assert.Equal(505, e.SuggestedStatus);
        Assert.NotNull(e.RequestHeaders);
    }

    [Theory]
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE")] // no empty line
    [InlineData("INVITE sip:b@example.com  SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")] // two spaces
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: \"unterminated <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")]
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nNo colon here\r\n\r\n")]
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nTo: <sip:c@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")] // two To
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 99999999999 INVITE\r\n\r\n")] // CSeq ≥ 2^31
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 300\r\n\r\n")]
    [InlineData("INVITE sip:b@example.com:99999 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")]
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")] // Via without sent-by
    [InlineData("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContact: <sip:c@%zzexample.com>\r\n\r\n")]
    [InlineData("SIP/2.0 2000 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")]
    [InlineData("\u0001\u0002garbage\r\n\r\n")]
    public void MalformedMessagesAreTypedParseErrors(string text) =>
        Assert.Throws<SipParseException>(() => SipMessageParser.Parse(text));

    [Fact]
    public void AResponseParseErrorIsNeverAnswered()
    {
        var e = Assert.Throws<SipParseException>(() => SipMessageParser.Parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCSeq: 1 INVITE\r\n\r\n"));
        Assert.False(e.IsRequest);
        Assert.Null(e.RequestHeaders);
    }

    [Fact]
    public void AStatusLineMayHaveAnEmptyOrSpacedReasonPhrase()
    {
        const string rest = "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n\r\n";
        Assert.Equal("", Assert.IsType<SipResponse>(SipMessageParser.Parse("SIP/2.0 486" + rest)).ReasonPhrase);
        Assert.Equal("Busy Here Now", Assert.IsType<SipResponse>(SipMessageParser.Parse("SIP/2.0 486 Busy Here Now" + rest)).ReasonPhrase);
    }
}
