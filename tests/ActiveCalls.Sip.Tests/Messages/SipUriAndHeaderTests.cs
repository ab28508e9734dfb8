using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Tests.Messages;

public class SipUriAndHeaderTests
{
    [Fact]
    public void AFullSipUriParsesIntoItsParts()
    {
        var uri = SipUri.Parse("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent");
        Assert.Equal("sips", uri.Scheme);
        Assert.Equal("alice", uri.User);
        Assert.Equal("secret", uri.Password);
        Assert.Equal("atlanta.example.com", uri.Host);
        Assert.Equal(5061, uri.Port);
        Assert.Equal("tcp", uri.Transport);
        Assert.True(uri.IsLooseRouter);
        Assert.Equal("239.255.255.1", uri.Parameters["MADDR"]);
        Assert.Equal([new("subject", "project%20x"), new KeyValuePair<string, string>("priority", "urgent")], uri.Headers);
        Assert.Equal("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent", uri.ToString());
    }

    [Theory]
    [InlineData("sip:127.0.0.1:5072", null, "127.0.0.1", 5072)]
    [InlineData("SIP:Bob@Example.COM", "Bob", "Example.COM", null)]
    [InlineData("sip:[2001:db8::10]:5070", null, "[2001:db8::10]", 5070)]
    [InlineData("sip:15555554567@pbx.example.com;user=phone", "15555554567", "pbx.example.com", null)]
    public void HostsPortsAndUsers(string text, string? user, string host, int? port)
    {
        var uri = SipUri.Parse(text);
        Assert.Equal((user, host, port), (uri.User, uri.Host, uri.Port));
        Assert.Equal("sip", uri.Scheme);
    }

    [Fact]
    public void UserPartsAreEscapedWhenWritten()
    {
        var uri = new SipUri("sip", "a b@c", "example.com");
        Assert.Equal("sip:a%20b%40c@example.com", uri.ToString());
        Assert.Equal("a b@c", SipUri.Parse(uri.ToString()).User);
        Assert.Equal("a b@c@example.com", uri.AddressOfRecord);
    }

    [Theory]
    [InlineData("sip:")]
    [InlineData("sip:alice@")]
    [InlineData("sip:alice@host:0")]
    [InlineData("sip:alice@host:abc")]
    [InlineData("sip:al ice@host")]
    [InlineData("sip:alice@host;;lr")]
    [InlineData("sip:alice@[::1")]
    [InlineData("alice@host")]
    [InlineData("sip:%4@host")]
    public void InvalidUrisAreRejected(string text)
    {
        Assert.Throws<SipParseException>(() => SipUri.Parse(text));
        Assert.False(SipUri.TryParse(text, out _));
    }

    [Fact]
    public void OtherSchemesAreKeptOpaque()
    {
        var tel = SipUri.Parse("tel:+1-201-555-0123");
        Assert.False(tel.IsSip);
        Assert.Equal("tel:+1-201-555-0123", tel.ToString());
    }

    [Fact]
    public void NameAddrParametersBelongToTheHeaderUnlessInsideTheBrackets()
    {
        var bare = NameAddress.Parse("sip:bob@example.com;tag=abc");
        Assert.Equal("abc", bare.Tag);
        Assert.Empty(bare.Uri.Parameters);

        var bracketed = NameAddress.Parse("Bob Smith <sip:bob@example.com;transport=udp>;tag=xyz;expires=30");
        Assert.Equal("Bob Smith", bracketed.DisplayName);
        Assert.Equal("udp", bracketed.Uri.Transport);
        Assert.Equal("xyz", bracketed.Tag);
        Assert.Equal("30", bracketed.Parameters["expires"]);

        var quoted = NameAddress.Parse("\"Call Setup\" <sip:call-setup@example.com>;tag=1");
        Assert.Equal("Call Setup", quoted.DisplayName);
        Assert.Equal("\"Call Setup\" <sip:call-setup@example.com>;tag=1", quoted.ToString());
    }

    [Fact]
    public void ViaSentByAndParameters()
    {
        var via = ViaHeader.Parse("SIP/2.0/udp 192.0.2.1:5070;branch=z9hG4bKx;received=10.1.1.1;rport=5071;maddr=224.2.0.1");
        Assert.Equal("UDP", via.Transport);
        Assert.Equal("192.0.2.1:5070", via.SentBy);
        Assert.True(via.HasRfc3261Branch);
        Assert.Equal(5071, via.Rport);
        Assert.Equal("224.2.0.1", via.Maddr);
        Assert.Equal("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKx;received=10.1.1.1;rport=5071;maddr=224.2.0.1", via.ToString());
        Assert.Throws<SipParseException>(() => ViaHeader.Parse("SIP/3.0/UDP h"));
        Assert.Throws<SipParseException>(() => ViaHeader.Parse("SIP/2.0/UDP h;rport=x"));
    }

    [Fact]
    public void CommasInsideQuotesAndBracketsDoNotSplitLists()
    {
        var headers = new SipHeaders();
        headers.Add("m", "\"Doe, John\" <sip:j@h;x=a,b>, <sip:k@h>");
        headers.Add("WWW-Authenticate", "Digest realm=\"a\", nonce=\"b\"");
        Assert.Equal(["\"Doe, John\" <sip:j@h;x=a,b>", "<sip:k@h>"], headers.GetValues("Contact"));
        Assert.Single(headers.GetValues("www-authenticate"));
    }
}
