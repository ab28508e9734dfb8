using Gateway.Api.Calls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>How one followed user's authorisation stands, as <c>/health/ready</c> and <c>GET /followed-users</c> show it.</summary>
/// <param name="Address">The followed SIP user (<c>user@domain</c>).</param>
/// <param name="AuthorizedUntil">When its current <c>authorize-plain</c> ends; null while it is not authorised (not yet,
/// or on the current event receiver's JID not any more).</param>
/// <param name="Covers">The addresses its last successful authorisation covered (with auth-for-all: every address of its
/// owner); its own address until one succeeded.</param>
/// <param name="LastError">Why its last authorisation failed; null once one succeeded.</param>
public sealed record FollowedUserStatus(string Address, DateTimeOffset? AuthorizedUntil, IReadOnlyList<string> Covers, string? LastError)
{
    public bool IsAuthorized => AuthorizedUntil is not null && LastError is null;
}

/// <summary>
/// The SIP users whose calls the gateway follows (<c>Gateway:Events</c>) and how each one's authorisation stands. The
/// subscription manager reports here; <c>POST /calls</c> asks <see cref="Follows"/> so that a call whose events would never
/// arrive is refused instead of timing out. Thread-safe.
/// </summary>
public sealed class FollowedUsers
{
    private readonly Lock _gate = new();
    private readonly IReadOnlyList<FollowedUserOptions> _users;
    private readonly Dictionary<string, FollowedUserStatus> _status = new(StringComparer.Ordinal);

    public FollowedUsers(IOptions<EventsOptions> options)
    {
        IsEnabled = options.Value.IsEnabled;
        UnfollowedFrom = options.Value.UnfollowedFrom;
        _users = IsEnabled ? options.Value.FollowedUsers() : [];
        foreach (var user in _users)
        {
            var address = SipUri.AddressOf(user.Address) ?? user.Address!;
            _status[user.Address!] = new FollowedUserStatus(address, null, [address], null);
        }
    }

    /// <summary>False when call events are off: nothing is followed, and nothing is refused for it.</summary>
    public bool IsEnabled { get; }

    /// <summary>What <c>POST /calls</c> does with a <c>from</c> that <see cref="Follows"/> says no to.</summary>
    public UnfollowedFromPolicy UnfollowedFrom { get; }

    /// <summary>The followed users with their web passwords, in configuration order.</summary>
    public IReadOnlyList<FollowedUserOptions> Users => _users;

    /// <summary>Every followed user's status, in configuration order.</summary>
    public IReadOnlyList<FollowedUserStatus> Statuses
    {
        get { lock (_gate) return [.. _users.Select(u => _status[u.Address!])]; }
    }

    /// <summary>Whether a call from <paramref name="from"/> shows up on the subscription: it is a followed user, or an
    /// address the last authorisation of one covered (kept across reconnects: the owner's addresses do not change with
    /// them). Always true when call events are off.</summary>
    public bool Follows(string from)
    {
        if (!IsEnabled) return true;
        if (SipUri.AddressOf(from) is not { } address) return false;
        lock (_gate) return _status.Values.Any(s => s.Covers.Contains(address, StringComparer.Ordinal));
    }

    /// <summary><paramref name="user"/> is authorised until <paramref name="until"/> for <paramref name="covers"/> (empty:
    /// the Auth component did not list them, so its own address).</summary>
    public void Authorized(FollowedUserOptions user, DateTimeOffset? until, IReadOnlyList<string> covers)
    {
        lock (_gate)
        {
            var current = _status[user.Address!];
            var addresses = covers.Select(SipUri.AddressOf).OfType<string>().Append(current.Address).Distinct(StringComparer.Ordinal).ToList();
            _status[user.Address!] = new FollowedUserStatus(current.Address, until, addresses, null);
        }
    }

    /// <summary><paramref name="user"/>'s authorisation failed: it stays covered as it last was (its calls may still
    /// flow until the old authorisation ends), with the error shown.</summary>
    public void Failed(FollowedUserOptions user, string error)
    {
        lock (_gate) _status[user.Address!] = _status[user.Address!] with { AuthorizedUntil = null, LastError = error };
    }

    /// <summary>A new event receiver (another JID) is not authorised for anyone yet.</summary>
    public void ReceiverChanged()
    {
        lock (_gate)
            foreach (var user in _users) _status[user.Address!] = _status[user.Address!] with { AuthorizedUntil = null };
    }
}
