using ActiveCalls.Service.Commands;

namespace ActiveCalls.Service.Tests.Commands;

public class SipUriTests
{
    [Theory]
    [InlineData("sip:foo@example.onsip.com", "foo", "example.onsip.com", null)]
    [InlineData("sip:15555554567@example.onsip.com", "15555554567", "example.onsip.com", null)]
    [InlineData("sip:+15555554567@example.com", "+15555554567", "example.com", null)]
    [InlineData("sip:bob@example.com:5060", "bob", "example.com", 5060)]
    [InlineData("sip:bob@127.0.0.1", "bob", "127.0.0.1", null)]
    [InlineData("sip:bob@[::1]:5070", "bob", "[::1]", 5070)]
    [InlineData("SIP:Bob@Example.COM", "Bob", "Example.COM", null)]
    [InlineData("sip:a%20b@x.example", "a%20b", "x.example", null)]
    [InlineData("sip:a.b-c_d!~*'()&=+$,;?/@x.example", "a.b-c_d!~*'()&=+$,;?/", "x.example", null)]
    [InlineData("sip:bob@localhost", "bob", "localhost", null)]
    [InlineData("sip:bob@example.com.", "bob", "example.com.", null)]
    [InlineData("sip:call-setup@a1-b.example9.com", "call-setup", "a1-b.example9.com", null)]
    public void AcceptsSipUserAtHost(string value, string user, string host, int? port)
    {
        Assert.True(SipUri.TryParse(value, out var uri));
        Assert.Equal(user, uri.User);
        Assert.Equal(host, uri.Host);
        Assert.Equal(port, uri.Port);
    }

    [Theory]
    [InlineData("")]
    [InlineData("foo")]
    [InlineData("bar")]
    [InlineData("foo@example.com")]
    [InlineData("15555554567@example.onsip.com")]
    [InlineData("sip:")]
    [InlineData("sip:bob")]
    [InlineData("sip:@example.com")]
    [InlineData("sip:bob@")]
    [InlineData("sips:bob@example.com")]
    [InlineData("tel:+15555554567")]
    [InlineData("sip:bob smith@example.com")]
    [InlineData("sip:bob@exa mple.com")]
    [InlineData(" sip:bob@example.com")]
    [InlineData("sip:bob@example.com\n")]
    [InlineData("sip:bob\t@example.com")]
    [InlineData("sip:<bob>@example.com")]
    [InlineData("sip:bob\"@example.com")]
    [InlineData("sip:]]>@example.com")]
    [InlineData("sip:bob@example.com>")]
    [InlineData("sip:bob@example.com;transport=tcp")]
    [InlineData("sip:bob@example.com?subject=hi")]
    [InlineData("sip:bob:secret@example.com")]
    [InlineData("sip:a@b@example.com")]
    [InlineData("sip:bob@-example.com")]
    [InlineData("sip:bob@example-.com")]
    [InlineData("sip:bob@example..com")]
    [InlineData("sip:bob@example.123")]
    [InlineData("sip:bob@1.2.3.256")]
    [InlineData("sip:bob@1.2.3")]
    [InlineData("sip:bob@example.com:0")]
    [InlineData("sip:bob@example.com:65536")]
    [InlineData("sip:bob@example.com:")]
    [InlineData("sip:bob@example.com:50a")]
    [InlineData("sip:a%2@x.example")]
    [InlineData("sip:a%zz@x.example")]
    [InlineData("sip:bob@[1.2.3.4]")]
    [InlineData("sip:bob@[::1")]
    [InlineData("sip:bób@example.com")]
    [InlineData("sip:bob@exämple.com")]
    public void RefusesAnythingElse(string value)
    {
        Assert.False(SipUri.TryParse(value, out var uri));
        Assert.Null(uri);
    }

    [Fact]
    public void RefusesNull() => Assert.False(SipUri.IsValid(null));

    [Fact]
    public void IsBoundedInLength()
    {
        var longest = "sip:" + new string('a', SipUri.MaxLength - "sip:@example.com".Length) + "@example.com";
        Assert.Equal(SipUri.MaxLength, longest.Length);
        Assert.True(SipUri.IsValid(longest));
        Assert.False(SipUri.IsValid(longest.Replace("sip:", "sip:a", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("sip:bob@example.com")]
    [InlineData("sip:bob@example.com:5060")]
    [InlineData("sip:bob@[2001:db8::1]:5061")]
    public void PrintsAsParsed(string value)
    {
        Assert.True(SipUri.TryParse(value, out var uri));
        Assert.Equal(value, uri.ToString());
    }
}
