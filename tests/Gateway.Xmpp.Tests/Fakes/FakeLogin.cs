using System.Text;
using System.Xml.Linq;

namespace Gateway.Xmpp.Tests.Fakes;

/// <summary>The server half of common negotiations, so edge-case tests script only what they are about.</summary>
public static class FakeLogin
{
    public const string PlainMechanism = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>";
    public const string BindAndSm = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/>";
    public const string BindOnly = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>";

    /// <summary>Plain-text stream, SASL PLAIN, bind (and SM enable when offered). Returns the SASL auth element.</summary>
    public static async Task<XElement> PlainLoginAsync(FakePeer peer, string postAuthFeatures = BindAndSm, string smId = "sm-1", string resource = "r1")
    {
        await peer.OpenStreamAsync(PlainMechanism);
        var auth = await peer.ReadElementAsync();
        await peer.SendAsync("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        await peer.OpenStreamAsync(postAuthFeatures);
        await CompleteBindAsync(peer, resource);
        if (postAuthFeatures.Contains("urn:xmpp:sm:3", StringComparison.Ordinal))
        {
            var enable = await peer.ReadElementAsync();
            if (enable.Name.LocalName != "enable") throw new InvalidOperationException($"Expected <enable/>, got {enable}.");
            await peer.SendAsync($"<enabled xmlns='urn:xmpp:sm:3' id='{smId}' resume='true' max='60'/>");
        }
        return auth;
    }

    /// <summary>A reconnecting client's login, SASL PLAIN and then stream features offering XEP-0198: returns the first
    /// element it sends after authenticating (its <c>&lt;resume/&gt;</c>).</summary>
    public static async Task<XElement> LoginUntilResumeAsync(FakePeer peer)
    {
        await peer.OpenStreamAsync(PlainMechanism);
        await peer.ReadElementAsync();
        await peer.SendAsync("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        await peer.OpenStreamAsync(BindAndSm);
        return await peer.ReadElementAsync();
    }

    public static async Task CompleteBindAsync(FakePeer peer, string resource = "r1")
    {
        var bind = await peer.ReadElementAsync();
        await peer.SendAsync($"<iq type='result' id='{(string?)bind.Attribute("id")}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@{FakeXmppServer.Domain}/{resource}</jid></bind></iq>");
    }

    public static string PlainCredentials(XElement auth) => Encoding.UTF8.GetString(Convert.FromBase64String(auth.Value));
}
