using Gateway.Api.CallEventsSubscription.Store;
using Gateway.Api.Calls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>Where a followed user comes from: the configuration (changed by a restart) or the admin API (stored).</summary>
public enum FollowedUserSource
{
    Configuration,
    Api,
}

/// <summary>How one followed user's authorisation stands, as <c>/health/ready</c> and <c>GET /followed-users</c> show it.</summary>
/// <param name="Address">The followed SIP user (<c>user@domain</c>).</param>
/// <param name="Source">Where it is configured.</param>
/// <param name="AuthorizedUntil">When its current <c>authorize-plain</c> ends; null while it is not authorised (not yet,
/// not on the current event receiver's JID, or not since its password changed).</param>
/// <param name="Covers">The addresses its last successful authorisation covered (with auth-for-all: every address of its
/// owner); its own address until one succeeded.</param>
/// <param name="LastError">Why its last authorisation failed; null once one succeeded.</param>
public sealed record FollowedUserStatus(
    string Address, FollowedUserSource Source, DateTimeOffset? AuthorizedUntil, IReadOnlyList<string> Covers, string? LastError)
{
    public bool IsAuthorized => AuthorizedUntil is not null && LastError is null;
}

/// <summary>What a change through the admin API came to.</summary>
public enum FollowedUserChange
{
    Done,
    /// <summary>The address is followed already.</summary>
    Exists,
    /// <summary>No such followed user.</summary>
    NotFound,
    /// <summary>The user comes from the configuration: only a new configuration changes it.</summary>
    Configured,
}

/// <summary>
/// The SIP users whose calls the gateway follows (<c>Gateway:Events</c>, then those added through
/// <c>/followed-users</c>, kept in <see cref="IFollowedUserStore"/>) and how each one's authorisation stands. The
/// subscription manager authorises them and reports here, and learns of additions and password changes from
/// <see cref="Changed"/>; <c>POST /calls</c> asks <see cref="Follows"/> so that a call whose events would never arrive is
/// refused instead of timing out. Thread-safe; loads the stored users when the host starts.
/// </summary>
public sealed class FollowedUsers : IHostedService
{
    private readonly Lock _gate = new();
    private readonly IFollowedUserStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<FollowedUsers> _logger;
    private readonly List<Entry> _entries = [];
    private TaskCompletionSource _changed = NewSignal();

    public FollowedUsers(IOptions<EventsOptions> options, IFollowedUserStore store, TimeProvider time, ILogger<FollowedUsers> logger)
    {
        _store = store;
        _time = time;
        _logger = logger;
        IsEnabled = options.Value.IsEnabled;
        UnfollowedFrom = options.Value.UnfollowedFrom;
        foreach (var user in options.Value.FollowedUsers()) _entries.Add(new Entry(user, FollowedUserSource.Configuration));
    }

    /// <summary>False when call events are off: nothing is authorised, and nothing is refused for it.</summary>
    public bool IsEnabled { get; }

    /// <summary>What <c>POST /calls</c> does with a <c>from</c> that <see cref="Follows"/> says no to.</summary>
    public UnfollowedFromPolicy UnfollowedFrom { get; }

    /// <summary>Completes at the next addition, password change or removal.</summary>
    public Task Changed
    {
        get { lock (_gate) return _changed.Task; }
    }

    /// <summary>The followed users with their web passwords: the configured ones, then the added ones.</summary>
    public IReadOnlyList<FollowedUserOptions> Users
    {
        get { lock (_gate) return [.. _entries.Select(e => e.User)]; }
    }

    /// <summary>The followed users not authorised now (refused, new, or with a new password), with their web passwords.</summary>
    public IReadOnlyList<FollowedUserOptions> Unauthorized
    {
        get { lock (_gate) return [.. _entries.Where(e => e.Status.AuthorizedUntil is null).Select(e => e.User)]; }
    }

    /// <summary>Every followed user's status, in the order of <see cref="Users"/>.</summary>
    public IReadOnlyList<FollowedUserStatus> Statuses
    {
        get { lock (_gate) return [.. _entries.Select(e => e.Status)]; }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var stored in await _store.ListAsync(cancellationToken))
        {
            lock (_gate)
            {
                if (Find(stored.Address) is not null)
                {
                    _logger.LogWarning("The followed user {Address} is configured and was also added through the API; the configured one is used", stored.Address);
                    continue;
                }
                _entries.Add(new Entry(new FollowedUserOptions { Address = stored.Address, Password = stored.Password }, FollowedUserSource.Api));
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Whether a call from <paramref name="from"/> shows up on the subscription: it is a followed user, or an
    /// address the last authorisation of one covered (kept across reconnects: the owner's addresses do not change with
    /// them). Always true when call events are off.</summary>
    public bool Follows(string from)
    {
        if (!IsEnabled) return true;
        if (SipUri.AddressOf(from) is not { } address) return false;
        lock (_gate) return _entries.Any(e => e.Status.Covers.Contains(address, StringComparer.Ordinal));
    }

    /// <summary><paramref name="user"/> is authorised until <paramref name="until"/> for <paramref name="covers"/> (empty:
    /// the Auth component did not list them, so its own address). Ignored when the user was removed or its password
    /// changed meanwhile.</summary>
    public void Authorized(FollowedUserOptions user, DateTimeOffset? until, IReadOnlyList<string> covers)
    {
        lock (_gate)
        {
            if (Current(user) is not { } entry) return;
            var addresses = covers.Select(SipUri.AddressOf).OfType<string>().Append(entry.Status.Address).Distinct(StringComparer.Ordinal).ToList();
            entry.Status = entry.Status with { AuthorizedUntil = until, Covers = addresses, LastError = null };
        }
    }

    /// <summary><paramref name="user"/>'s authorisation failed: it stays covered as it last was (its calls may still
    /// flow until the old authorisation ends), with the error shown.</summary>
    public void Failed(FollowedUserOptions user, string error)
    {
        lock (_gate)
            if (Current(user) is { } entry) entry.Status = entry.Status with { AuthorizedUntil = null, LastError = error };
    }

    /// <summary>A new event receiver (another JID) is not authorised for anyone yet.</summary>
    public void ReceiverChanged()
    {
        lock (_gate)
            foreach (var entry in _entries) entry.Status = entry.Status with { AuthorizedUntil = null };
    }

    /// <summary>Follows <paramref name="address"/> (normalised by the caller) from now on, stored first.</summary>
    public async Task<FollowedUserChange> AddAsync(string address, string password, CancellationToken cancellationToken)
    {
        lock (_gate) if (Find(address) is not null) return FollowedUserChange.Exists;
        if (!await _store.AddAsync(new StoredFollowedUser(address, password, _time.GetUtcNow()), cancellationToken)) return FollowedUserChange.Exists;
        lock (_gate) _entries.Add(new Entry(new FollowedUserOptions { Address = address, Password = password }, FollowedUserSource.Api));
        _logger.LogInformation("Now following {Address} (added through the API)", address);
        Signal();
        return FollowedUserChange.Done;
    }

    /// <summary>Replaces the web password of an added user; it is authorised again with it.</summary>
    public async Task<FollowedUserChange> SetPasswordAsync(string address, string password, CancellationToken cancellationToken)
    {
        if (Refuse(address) is { } refusal) return refusal;
        if (!await _store.SetPasswordAsync(address, password, cancellationToken)) return FollowedUserChange.NotFound;
        lock (_gate)
        {
            if (Find(address) is not { } entry) return FollowedUserChange.NotFound;
            entry.User = new FollowedUserOptions { Address = address, Password = password };
            entry.Status = entry.Status with { AuthorizedUntil = null, LastError = null };
        }
        _logger.LogInformation("The web password of the followed user {Address} changed; authorising it again", address);
        Signal();
        return FollowedUserChange.Done;
    }

    /// <summary>Stops following an added user. Its authorisation on the service runs out by itself (there is no way to
    /// revoke one): calls of its addresses may still arrive until then, but new ones are refused at once.</summary>
    public async Task<FollowedUserChange> RemoveAsync(string address, CancellationToken cancellationToken)
    {
        if (Refuse(address) is { } refusal) return refusal;
        if (!await _store.RemoveAsync(address, cancellationToken)) return FollowedUserChange.NotFound;
        lock (_gate) _entries.RemoveAll(e => e.Status.Address == address && e.Source == FollowedUserSource.Api);
        _logger.LogInformation("No longer following {Address}", address);
        Signal();
        return FollowedUserChange.Done;
    }

    private FollowedUserChange? Refuse(string address)
    {
        lock (_gate)
            return Find(address) switch
            {
                null => FollowedUserChange.NotFound,
                { Source: FollowedUserSource.Configuration } => FollowedUserChange.Configured,
                _ => null,
            };
    }

    private Entry? Find(string address) => _entries.FirstOrDefault(e => e.Status.Address == address);

    /// <summary>The entry <paramref name="user"/> still is (same password), else null.</summary>
    private Entry? Current(FollowedUserOptions user) => _entries.FirstOrDefault(e => ReferenceEquals(e.User, user));

    private void Signal()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = NewSignal();
        }
        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Entry(FollowedUserOptions user, FollowedUserSource source)
    {
        public FollowedUserOptions User { get; set; } = user;

        public FollowedUserSource Source { get; } = source;

        public FollowedUserStatus Status { get; set; } = InitialStatus(user, source);

        private static FollowedUserStatus InitialStatus(FollowedUserOptions user, FollowedUserSource source)
        {
            var address = SipUri.AddressOf(user.Address) ?? user.Address!;
            return new FollowedUserStatus(address, source, null, [address], null);
        }
    }
}
