using Gateway.Xmpp.Core;

namespace ActiveCalls.Service.Auth;

/// <summary>Which bare JIDs may act for which SIP addresses, until when. Written by the auth component
/// (<c>authorize-plain</c>), read by the PubSub component (who may subscribe) and the command component.</summary>
public interface IAuthorizationStore
{
    /// <summary>Authorises <paramref name="jid"/>'s bare JID for <paramref name="sipAddresses"/> until <paramref name="expires"/>
    /// (replacing earlier expiries for those addresses).</summary>
    void Authorize(Jid jid, IEnumerable<string> sipAddresses, DateTimeOffset expires);

    /// <summary>The addresses <paramref name="jid"/>'s bare JID is authorised for now (lower-case <c>user@domain</c>).</summary>
    IReadOnlySet<string> AddressesFor(Jid jid);

    bool IsAuthorized(Jid jid, string sipAddress);

    /// <summary>Raised when a JID's set of authorised addresses changes (grant or expiry), so collection subscriptions follow.</summary>
    event EventHandler<Jid>? Changed;
}
