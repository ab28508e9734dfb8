using Gateway.Xmpp.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Service.Auth;

/// <summary>
/// The in-memory <see cref="IAuthorizationStore"/>: grants per bare JID and SIP address, each with its own expiry, read
/// against <see cref="TimeProvider"/> so a grant is gone the instant it expires. One timer, armed for the earliest expiry,
/// sweeps expired grants and raises <see cref="Changed"/> for each JID that lost addresses. Thread-safe.
/// </summary>
/// <remarks><see cref="Changed"/> runs on the granting thread (after the grant is visible) or on the timer's thread;
/// never under the store's lock, and a throwing handler is logged, not propagated.</remarks>
public sealed class AuthorizationStore : IAuthorizationStore, IDisposable
{
    private static readonly TimeSpan MinimumDelay = TimeSpan.FromMilliseconds(1);
    private readonly object _gate = new();
    private readonly Dictionary<Jid, Dictionary<string, DateTimeOffset>> _grants = [];
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly IGrantStore? _persisted;
    private DateTimeOffset? _armedFor;
    private bool _disposed;

    /// <summary>With <paramref name="persisted"/>, grants are written there before they are answered, and those a previous
    /// run left there are loaded (expired ones go at the first sweep).</summary>
    public AuthorizationStore(TimeProvider? timeProvider = null, ILogger<AuthorizationStore>? logger = null, IGrantStore? persisted = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _persisted = persisted;
        _timer = _time.CreateTimer(static state => ((AuthorizationStore)state!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_gate)
        {
            foreach (var grant in persisted?.Load() ?? [])
            {
                if (!_grants.TryGetValue(grant.Jid.Bare, out var grants)) _grants[grant.Jid.Bare] = grants = new(StringComparer.Ordinal);
                grants[grant.Address] = grant.Expires;
            }
            ArmLocked();
        }
    }

    public event EventHandler<Jid>? Changed;

    public void Authorize(Jid jid, IEnumerable<string> sipAddresses, DateTimeOffset expires)
    {
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentNullException.ThrowIfNull(sipAddresses);
        var bare = jid.Bare;
        var addresses = sipAddresses.Select(Normalize).ToList();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_grants.TryGetValue(bare, out var grants)) _grants[bare] = grants = new(StringComparer.Ordinal);
            foreach (var address in addresses)
            {
                _persisted?.Save(new StoredGrant(bare, address, expires));
                grants[address] = expires;
            }
            ArmLocked();
        }
        _logger.LogInformation("Authorised {Jid} for {Addresses} until {Expires:o}", bare, string.Join(",", addresses), expires);
        Raise(bare);
    }

    public IReadOnlySet<string> AddressesFor(Jid jid)
    {
        ArgumentNullException.ThrowIfNull(jid);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_grants.TryGetValue(jid.Bare, out var grants)) return new HashSet<string>(StringComparer.Ordinal);
            return grants.Where(g => g.Value > now).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        }
    }

    public bool IsAuthorized(Jid jid, string sipAddress)
    {
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentNullException.ThrowIfNull(sipAddress);
        var address = Normalize(sipAddress);
        var now = _time.GetUtcNow();
        lock (_gate)
            return _grants.TryGetValue(jid.Bare, out var grants) && grants.TryGetValue(address, out var expires) && expires > now;
    }

    /// <summary>When <paramref name="jid"/>'s grant for <paramref name="sipAddress"/> ends, or null when it has none now.</summary>
    public DateTimeOffset? ExpiryOf(Jid jid, string sipAddress)
    {
        ArgumentNullException.ThrowIfNull(jid);
        var address = Normalize(sipAddress);
        var now = _time.GetUtcNow();
        lock (_gate)
            return _grants.TryGetValue(jid.Bare, out var grants) && grants.TryGetValue(address, out var expires) && expires > now ? expires : null;
    }

    /// <summary>Drops expired grants and raises <see cref="Changed"/> for every JID that lost some. The timer calls this at the
    /// earliest expiry; calling it directly is harmless.</summary>
    public void Sweep()
    {
        var now = _time.GetUtcNow();
        var changed = new List<Jid>();
        lock (_gate)
        {
            if (_disposed) return;
            _armedFor = null;
            foreach (var (jid, grants) in _grants)
            {
                var expired = grants.Where(g => g.Value <= now).Select(g => g.Key).ToList();
                if (expired.Count == 0) continue;
                foreach (var address in expired)
                {
                    _persisted?.Delete(jid, address);
                    grants.Remove(address);
                }
                changed.Add(jid);
            }
            foreach (var jid in changed)
                if (_grants[jid].Count == 0) _grants.Remove(jid);
            ArmLocked();
        }
        foreach (var jid in changed)
        {
            _logger.LogInformation("The authorisation of {Jid} expired for some addresses", jid);
            Raise(jid);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _timer.Dispose();
    }

    /// <summary>Arms the timer for the earliest expiry still held (it only ever moves earlier between sweeps).</summary>
    private void ArmLocked()
    {
        DateTimeOffset? earliest = null;
        foreach (var grants in _grants.Values)
            foreach (var expires in grants.Values)
                if (earliest is null || expires < earliest) earliest = expires;
        if (earliest is not { } due || (_armedFor is { } armed && armed <= due)) return;
        _armedFor = due;
        // Never zero: some timers (FakeTimeProvider's) fire a zero due time on this thread, inside the lock.
        var delay = due - _time.GetUtcNow();
        _timer.Change(delay > MinimumDelay ? delay : MinimumDelay, Timeout.InfiniteTimeSpan);
    }

    private void Raise(Jid jid)
    {
        try { Changed?.Invoke(this, jid); }
        catch (Exception e) { _logger.LogError(e, "A handler of the authorisation store's Changed event threw"); }
    }

    private static string Normalize(string address) =>
        UserDirectory.TryNormalizeAddress(address, allowSipPrefix: true, out var normalized)
            ? normalized
            : throw new ArgumentException($"'{address}' is not a user@domain SIP address.", nameof(address));
}
