using System.Text;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Tests.Messages;

public class SipSerializationTests
{
    [Fact]
    public void ARequestRoundTripsWithLongNamesAndAnExactContentLength()
    {
        var request = new SipRequest("INVITE", SipUri.Parse("sip:bob@127.0.0.1:5072"));
        request.Headers.Add("v", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport");
        request.Headers.Add("f", new NameAddress(SipUri.Parse("sip:call-setup@example.com"), "Call Setup") { Tag = "t1" }.ToString());
        request.Headers.Add("t", "<sip:bob@example.com>");
        request.Headers.Add("i", "rt@127.0.0.1");
        request.Headers.Add("CSeq", "1 INVITE");
        request.Headers.Add("Max-Forwards", "70");
        request.Headers.Add("Content-Length", "999"); // stale: replaced by the real length
        request.SetBody(Encoding.UTF8.GetBytes("v=0\r\n\u00e9\r\n"), "application/sdp");

        var text = request.ToString();
        Assert.StartsWith("INVITE sip:bob@127.0.0.1:5072 SIP/2.0\r\nVia: ", text, StringComparison.Ordinal);
        Assert.Contains("\r\nFrom: \"Call Setup\" <sip:call-setup@example.com>;tag=t1\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Length: 9\r\n\r\nv=0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("999", text, StringComparison.Ordinal);

        var again = Assert.IsType<SipRequest>(SipMessageParser.Parse(request.ToBytes()));
        Assert.Equal(request.Body, again.Body);
        Assert.Equal("t1", again.From.Tag);
        Assert.Equal("Call Setup", again.From.DisplayName);
        Assert.Equal(request.ToString(), again.ToString());
    }

    [Fact]
    public void AResponseCopiesViasFromToCallIdAndCSeqAndTagsTheToExceptOn100()
    {
        var request = Assert.IsType<SipRequest>(SipMessageParser.Parse(
            "BYE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1, SIP/2.0/UDP p2;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP p3;branch=z9hG4bK3\r\n" +
            "From: <sip:b@h>;tag=b1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 7 BYE\r\nMax-Forwards: 70\r\n\r\n"));

        var ok = request.CreateResponse(200, toTag: "a1");
        Assert.Equal(["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"], ok.Vias.Select(v => v.Branch));
        Assert.Equal("a1", ok.To.Tag);
        Assert.Equal("b1", ok.From.Tag);
        Assert.Equal(new CSeqHeader(7, "BYE"), ok.CSeq);
        Assert.Equal("OK", ok.ReasonPhrase);
        Assert.Null(request.CreateResponse(100, toTag: "a1").To.Tag);
        Assert.StartsWith("SIP/2.0 486 Busy Here\r\n", request.CreateResponse(486).ToString(), StringComparison.Ordinal);
    }
}
