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
/// refused instead of timing out. Thread-safe; loads the stored users when the host starts. With replicas,
/// <see cref="FollowedUsersReplication"/> keeps it in step with the others: <see cref="ReloadAsync"/> takes in their
/// changes to the team, and <see cref="Adopt"/> the subscription holder's statuses.
/// </summary>
public sealed class FollowedUsers : IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private readonly IFollowedUserStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<FollowedUsers> _logger;
    private readonly List<Entry> _entries = [];
    private readonly ChangeSignal _changed = new();
    private readonly ChangeSignal _statusesChanged = new();
    // One change at a time through this replica, reloads included: a reload's list of the store is never older than
    // the change it is applied after.
    private readonly SemaphoreSlim _changing = new(1, 1);

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
    public Task Changed => _changed.Next;

    /// <summary>Completes at the next change to any status (an authorisation reported or adopted, a change to the team).</summary>
    public Task StatusesChanged => _statusesChanged.Next;

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
        IReadOnlyList<StoredFollowedUser> stored;
        try
        {
            stored = await _store.ListAsync(cancellationToken);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // A replica starts while Redis is down (it is not ready until Redis answers); the periodic reload of
            // FollowedUsersReplication takes the stored users in then.
            _logger.LogWarning("Could not read the followed users from Redis at start ({Message}); they are read when Redis answers", e.Message);
            return;
        }
        lock (_gate)
        {
            foreach (var user in stored.Where(u => Find(u.Address) is { Source: FollowedUserSource.Configuration }))
                _logger.LogWarning("The followed user {Address} is configured and was also added through the API; the configured one is used", user.Address);
            TakeIn(stored);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Reads the stored users again and takes in what other replicas changed: additions, new passwords and
    /// removals, raising <see cref="Changed"/> when there was any (the subscription holder then authorises them).</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _changing.WaitAsync(cancellationToken);
        try
        {
            var stored = await _store.ListAsync(cancellationToken);
            bool changed;
            lock (_gate) changed = TakeIn(stored);
            if (changed) RaiseTeamChanged();
        }
        finally
        {
            _changing.Release();
        }
    }

    /// <summary>On a replica that does not hold the subscription (and so authorises nobody): takes in the holder's
    /// statuses by address, so that this replica shows how the authorisations stand and <see cref="Follows"/> answers
    /// for the addresses they cover as the holder's would. A user the holder has not reported (just added here, or the
    /// holder is gone) is shown not authorised, covering what it last did.</summary>
    public void Adopt(IReadOnlyList<FollowedUserStatus> holders)
    {
        var byAddress = holders.ToDictionary(s => s.Address, StringComparer.Ordinal);
        var changed = false;
        lock (_gate)
        {
            foreach (var entry in _entries)
            {
                var status = byAddress.TryGetValue(entry.Status.Address, out var held)
                    ? held with { Source = entry.Source }
                    : entry.Status with { AuthorizedUntil = null };
                if (SameStatus(status, entry.Status)) continue;
                entry.Status = status;
                changed = true;
            }
        }
        if (changed) _statusesChanged.Raise();
    }

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
        _statusesChanged.Raise();
    }

    /// <summary><paramref name="user"/>'s authorisation failed: it stays covered as it last was (its calls may still
    /// flow until the old authorisation ends), with the error shown.</summary>
    public void Failed(FollowedUserOptions user, string error)
    {
        lock (_gate)
            if (Current(user) is { } entry) entry.Status = entry.Status with { AuthorizedUntil = null, LastError = error };
        _statusesChanged.Raise();
    }

    /// <summary>A new event receiver (another JID) is not authorised for anyone yet.</summary>
    public void ReceiverChanged()
    {
        lock (_gate)
            foreach (var entry in _entries) entry.Status = entry.Status with { AuthorizedUntil = null };
        _statusesChanged.Raise();
    }

    /// <summary>Follows <paramref name="address"/> (normalised by the caller) from now on, stored first.</summary>
    public Task<FollowedUserChange> AddAsync(string address, string password, CancellationToken cancellationToken) => ChangeAsync(async () =>
    {
        lock (_gate) if (Find(address) is not null) return FollowedUserChange.Exists;
        if (!await _store.AddAsync(new StoredFollowedUser(address, password, _time.GetUtcNow()), cancellationToken)) return FollowedUserChange.Exists;
        lock (_gate) Follow(address, password);
        return FollowedUserChange.Done;
    }, cancellationToken);

    /// <summary>Replaces the web password of an added user; it is authorised again with it.</summary>
    public Task<FollowedUserChange> SetPasswordAsync(string address, string password, CancellationToken cancellationToken) => ChangeAsync(async () =>
    {
        if (Refuse(address) is { } refusal) return refusal;
        if (!await _store.SetPasswordAsync(address, password, cancellationToken)) return FollowedUserChange.NotFound;
        lock (_gate)
        {
            if (Find(address) is not { } entry) return FollowedUserChange.NotFound;
            Repassword(entry, password);
        }
        return FollowedUserChange.Done;
    }, cancellationToken);

    /// <summary>Stops following an added user. Its authorisation on the service runs out by itself (there is no way to
    /// revoke one): calls of its addresses may still arrive until then, but new ones are refused at once.</summary>
    public Task<FollowedUserChange> RemoveAsync(string address, CancellationToken cancellationToken) => ChangeAsync(async () =>
    {
        if (Refuse(address) is { } refusal) return refusal;
        if (!await _store.RemoveAsync(address, cancellationToken)) return FollowedUserChange.NotFound;
        lock (_gate) Unfollow(address);
        return FollowedUserChange.Done;
    }, cancellationToken);

    public void Dispose() => _changing.Dispose();

    /// <summary>One change to the team through the admin API, taken in turn with the others and with reloads; signalled
    /// when done.</summary>
    private async Task<FollowedUserChange> ChangeAsync(Func<Task<FollowedUserChange>> change, CancellationToken cancellationToken)
    {
        await _changing.WaitAsync(cancellationToken);
        FollowedUserChange outcome;
        try
        {
            outcome = await change();
        }
        finally
        {
            _changing.Release();
        }
        if (outcome == FollowedUserChange.Done) RaiseTeamChanged();
        return outcome;
    }

    /// <summary>Makes the added users those <paramref name="stored"/> lists (under the gate); true when that changed any.</summary>
    private bool TakeIn(IReadOnlyList<StoredFollowedUser> stored)
    {
        var changed = false;
        var addresses = stored.Select(u => u.Address).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _entries.Where(e => e.Source == FollowedUserSource.Api && !addresses.Contains(e.Status.Address)).ToList())
            changed |= Unfollow(gone.Status.Address);
        foreach (var user in stored)
        {
            switch (Find(user.Address))
            {
                case null:
                    Follow(user.Address, user.Password);
                    changed = true;
                    break;
                case { Source: FollowedUserSource.Api } entry when entry.User.Password != user.Password:
                    Repassword(entry, user.Password);
                    changed = true;
                    break;
            }
        }
        return changed;
    }

    private void Follow(string address, string password)
    {
        _entries.Add(new Entry(new FollowedUserOptions { Address = address, Password = password }, FollowedUserSource.Api));
        _logger.LogInformation("Now following {Address} (added through the API)", address);
    }

    private void Repassword(Entry entry, string password)
    {
        entry.User = new FollowedUserOptions { Address = entry.Status.Address, Password = password };
        entry.Status = entry.Status with { AuthorizedUntil = null, LastError = null };
        _logger.LogInformation("The web password of the followed user {Address} changed; authorising it again", entry.Status.Address);
    }

    private bool Unfollow(string address)
    {
        if (_entries.RemoveAll(e => e.Status.Address == address && e.Source == FollowedUserSource.Api) == 0) return false;
        _logger.LogInformation("No longer following {Address}", address);
        return true;
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

    /// <summary>The team changed: the statuses did too (a user added, re-passworded or removed).</summary>
    private void RaiseTeamChanged()
    {
        _changed.Raise();
        _statusesChanged.Raise();
    }

    private static bool SameStatus(FollowedUserStatus a, FollowedUserStatus b) =>
        a with { Covers = b.Covers } == b && a.Covers.SequenceEqual(b.Covers, StringComparer.Ordinal);

    /// <summary>A task that completes at the next <see cref="Raise"/>: whoever took it before a change learns of it.</summary>
    private sealed class ChangeSignal
    {
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Next => Volatile.Read(ref _next).Task;

        public void Raise() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

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
