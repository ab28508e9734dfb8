using System.Text;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Tests.Dialogs;

public class RoutingAuthAndSdpTests
{
    private static SipRouter Router(Action<SipOptions>? configure = null)
    {
        var options = new SipOptions();
        configure?.Invoke(options);
        return new SipRouter(options);
    }

    [Fact]
    public void AConfiguredDomainGoesThroughItsProxyWithALooseRoute()
    {
        var route = Router(o => o.Domains["example.com"] = new SipDomainOptions { Proxy = "pbx.example.net:5080" }).Resolve(SipUri.Parse("sip:alice@example.com"));
        Assert.NotNull(route);
        Assert.Equal("sip:pbx.example.net:5080;lr", route.OutboundProxy!.ToString());
    }

    [Theory]
    [InlineData("sip:alice@192.0.2.1")]
    [InlineData("sip:alice@phones.example.org:5072")]
    [InlineData("sip:alice@[2001:db8::1]")]
    public void AnIpLiteralOrAnExplicitPortIsRoutedDirectly(string uri)
    {
        var route = Router().Resolve(SipUri.Parse(uri));
        Assert.NotNull(route);
        Assert.Null(route.OutboundProxy);
    }

    [Fact]
    public void AnUnknownDomainWithoutPortHasNoRouteUnlessThereIsADefaultProxy()
    {
        Assert.Null(Router().Resolve(SipUri.Parse("sip:alice@unknown.example")));
        Assert.Null(Router().Resolve(SipUri.Parse("tel:+15555550100")));
        var viaDefault = Router(o => o.DefaultProxy = "10.0.0.1:5060").Resolve(SipUri.Parse("sip:alice@unknown.example"));
        Assert.Equal("sip:10.0.0.1:5060;lr", viaDefault!.OutboundProxy!.ToString());
    }

    [Fact]
    public void AStaticContactBindingRetargetsTheRequestToThePhoneAndWinsOverTheDomainProxy()
    {
        var route = Router(o =>
        {
            o.Contacts["alice@example.com"] = "127.0.0.1:5071";
            o.Domains["example.com"] = new SipDomainOptions { Proxy = "pbx.example.net:5080" };
        }).Resolve(SipUri.Parse("sip:alice@example.com"));

        Assert.NotNull(route);
        Assert.Null(route.OutboundProxy);
        Assert.Equal("sip:alice@127.0.0.1:5071", route.Contact!.ToString());
        Assert.NotNull(route.Domain);
    }

    [Fact]
    public void CredentialsAreChosenByDomainThenRealm()
    {
        var router = Router(o =>
        {
            o.Domains["a.example"] = new SipDomainOptions { Username = "ua", Password = "pa" };
            o.Domains["b.example"] = new SipDomainOptions { Username = "ub", Password = "pb", Realm = "realm-b" };
        });
        Assert.Equal(("ua", "pa"), router.CredentialsFor("a.example", "anything"));
        Assert.Equal(("ub", "pb"), router.CredentialsFor("127.0.0.1", "realm-b"));
        Assert.Null(router.CredentialsFor("b.example", "other-realm"));
        Assert.Null(router.CredentialsFor("c.example", "x"));
    }

    [Fact]
    public void DigestMatchesTheRfc2617Example()
    {
        var challenge = DigestChallenge.Parse("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")!;
        Assert.True(challenge.IsSupported);
        var header = DigestAuthentication.CreateAuthorization(challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", 1, "0a4f113b");
        var p = DigestChallenge.ParseParams(header["Digest".Length..]);
        Assert.Equal("6629fae49393a05397450978507c4ef1", p["response"]);
        Assert.Equal("00000001", p["nc"]);
        Assert.Equal("5ccc069c403ebaf9f0171e9517f40e41", p["opaque"]);
    }

    [Fact]
    public void DigestWithoutQopAndWithSha256()
    {
        var plain = DigestChallenge.Parse("Digest realm=\"r\", nonce=\"n\"")!;
        var p = DigestChallenge.ParseParams(DigestAuthentication.CreateAuthorization(plain, "INVITE", "sip:b@h", "u", "p", 1)["Digest".Length..]);
        Assert.False(p.ContainsKey("qop"));
        static string Md5(string s) =>
#pragma warning disable CA5351
            Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(s)));
#pragma warning restore CA5351
        Assert.Equal(Md5($"{Md5("u:r:p")}:n:{Md5("INVITE:sip:b@h")}"), p["response"]);

        var response = new SipResponse(401, "Unauthorized");
        response.Headers.Add("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", algorithm=MD5, qop=\"auth\"");
        response.Headers.Add("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"");
        response.Headers.Add("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256, qop=\"auth\"");
        Assert.Equal("SHA-256", DigestAuthentication.SelectChallenge(response)!.Algorithm);
        Assert.Null(DigestChallenge.Parse("Basic realm=\"r\""));
        Assert.False(DigestChallenge.Parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")!.IsSupported);
    }

    [Fact]
    public void RejectingAnOfferZeroesEveryMediaPort()
    {
        var offer = Encoding.UTF8.GetBytes("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 49170 RTP/AVP 0 8\r\na=sendrecv\r\nm=video 51372 RTP/AVP 31\r\n");
        Assert.Equal("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0 8\r\na=sendrecv\r\nm=video 0 RTP/AVP 31\r\n", Encoding.UTF8.GetString(Sdp.RejectAll(offer)));
    }
}
