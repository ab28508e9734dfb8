using Gateway.Xmpp.Core;

namespace ActiveCalls.Service.Auth;

/// <summary>One authorisation: a bare JID may act for a SIP address until <see cref="Expires"/>.</summary>
public sealed record StoredGrant(Jid Jid, string Address, DateTimeOffset Expires);

/// <summary>Where <see cref="AuthorizationStore"/> keeps its grants beyond the process (see <see cref="Storage.SqliteGrantStore"/>).
/// Each call is made before the answer that depends on it is sent.</summary>
public interface IGrantStore
{
    /// <summary>Adds or replaces the grant of the same JID and address.</summary>
    void Save(StoredGrant grant);

    void Delete(Jid jid, string address);

    /// <summary>Every grant kept, expired ones included (the store sweeps them).</summary>
    IReadOnlyList<StoredGrant> Load();
}
