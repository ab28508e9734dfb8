using Gateway.Api.Calls;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;
using Gateway.Xmpp.PubSub;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

public enum EventsState
{
    /// <summary><c>Gateway:Events</c> is off.</summary>
    Disabled,
    /// <summary>No pooled connection is established.</summary>
    WaitingForConnection,
    /// <summary>Authorising and subscribing on the receiver.</summary>
    Subscribing,
    /// <summary>Subscribed: events flow into the call tracker.</summary>
    Active,
    /// <summary>The last attempt failed; waiting before the next one.</summary>
    Retrying,
    /// <summary>Another replica holds the subscription (replicas on Redis); this one takes over if that one goes.</summary>
    Standby,
    Stopped,
}

/// <summary>What <c>/health/ready</c> and the logs say about the subscription.</summary>
public sealed record EventsStatus(
    EventsState State, string? Receiver, string? Node, DateTimeOffset? ExpiresAt, string? LastError, long ItemsApplied, long RetractsApplied)
{
    public bool IsActive => State == EventsState.Active;
}

/// <summary>
/// Keeps one PubSub subscription to <c>/me/&lt;bare-jid&gt;</c> on the pool's designated event receiver and feeds every
/// notification into the <see cref="CallTracker"/>, following OnSIP's bootstrap:
/// <list type="number">
/// <item><c>authorize-plain</c> (with <c>auth-for-all</c>) for each followed user (<see cref="FollowedUsers"/>) on the
/// receiver's JID, so the one collection covers every followed address; a user the Auth component refuses is reported
/// and tried again at each periodic check, while the others' calls flow; a user added or given a new password through
/// the admin API is authorised at once;</item>
/// <item>list the subscriptions of the node and reuse (renew through options) the one of the receiver's full JID, else
/// subscribe with items / depth all / expire, treating <c>pending</c> as in progress until the <c>subscribed</c> message;</item>
/// <item>fetch the collection's current items and reconcile the calls with them (calls that ended while no
/// subscription was active get their end events);</item>
/// <item>re-authorise and renew at <see cref="EventsOptions.RenewAt"/> of the remaining lifetime.</item>
/// </list>
/// A change of receiver (fail-over, or a new session of the same connection) starts over on the new receiver; failures
/// are retried with decorrelated-jitter backoff.
/// </summary>
public sealed class ActiveCallsSubscriptionManager : BackgroundService
{
    private const int SubscriptionLimitPerNode = 10;

    private readonly IXmppPool _pool;
    private readonly IReplicaLeadership _leadership;
    private readonly bool _replicated;
    private readonly CallTracker _calls;
    private readonly FollowedUsers _followed;
    private readonly FollowedUsersAuthorizer _authorizer;
    private readonly EventsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ActiveCallsSubscriptionManager> _logger;
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = NewSignal();
    private CancellationTokenSource? _session;
    private int _generation;
    private Jid? _previousSubscriber;
    private long _itemsApplied;
    private long _retractsApplied;
    private EventsStatus _status;

    public ActiveCallsSubscriptionManager(
        IXmppPool pool, IReplicaLeadership leadership, IOptions<CallsOptions> calls, CallTracker tracker, FollowedUsers followed,
        IOptions<EventsOptions> options, TimeProvider time, ILogger<ActiveCallsSubscriptionManager> logger)
    {
        _pool = pool;
        _leadership = leadership;
        _replicated = calls.Value.Store == CallStoreKind.Redis;
        _calls = tracker;
        _followed = followed;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _authorizer = new FollowedUsersAuthorizer(followed, _options, time, logger);
        _status = new EventsStatus(_options.IsEnabled ? EventsState.WaitingForConnection : EventsState.Disabled, null, null, null, null, 0, 0);
        Service = Jid.Parse(_options.IsEnabled ? _options.PubSubService : "pubsub.invalid");
    }

    /// <summary>The PubSub service subscribed to.</summary>
    public Jid Service { get; }

    public EventsStatus Status
    {
        get
        {
            lock (_gate) return _status with { ItemsApplied = Interlocked.Read(ref _itemsApplied), RetractsApplied = Interlocked.Read(ref _retractsApplied) };
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.IsEnabled)
        {
            _logger.LogInformation("Call events are off (no followed user in Gateway:Events): call states come only from commands");
            return;
        }
        _pool.ReceiverChanged += OnReceiverChanged;
        var backoff = new ReconnectBackoff(_options.RetryDelay, _options.MaxRetryDelay);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var term = await HoldLeaseAsync(stoppingToken);
                var (generation, changed) = Observe();
                var receiver = _pool.Receiver;
                if (receiver?.LocalJid is null)
                {
                    SetState(EventsState.WaitingForConnection, null, null, null, keepError: true);
                    await WaitAsync(changed, null, stoppingToken);
                    continue;
                }
                using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
                lock (_gate)
                {
                    _session = session;
                    if (generation != _generation) session.Cancel();
                }
                try
                {
                    await RunSessionAsync(receiver, receiver.LocalJid, backoff, session.Token);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (OperationCanceledException) when (term.IsCancellationRequested)
                {
                    _logger.LogWarning("This replica lost the subscription lease; another replica takes the call events over");
                }
                catch (OperationCanceledException) when (session.IsCancellationRequested)
                {
                    _logger.LogInformation("Event receiver changed; subscribing again on the new one");
                }
                catch (Exception e)
                {
                    var delay = backoff.Next();
                    SetState(EventsState.Retrying, receiver.LocalJid?.ToString(), null, null, error: e.Message);
                    _logger.LogWarning("Call events subscription failed ({Reason}); retrying in {Delay}", Describe(e), delay);
                    await WaitAsync(Task.WhenAny(changed, _followed.Changed), delay, stoppingToken);
                }
                finally
                {
                    lock (_gate) _session = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _pool.ReceiverChanged -= OnReceiverChanged;
            SetState(EventsState.Stopped, null, null, null);
        }
    }

    /// <summary>Waits until this replica holds the subscription lease (at once when it runs alone); the token ends the
    /// term. While another replica holds it, the state says so.</summary>
    private async Task<CancellationToken> HoldLeaseAsync(CancellationToken stoppingToken)
    {
        if (_leadership.IsLeader) return await _leadership.WhenLeaderAsync(stoppingToken);
        SetState(EventsState.Standby, null, null, null);
        _logger.LogInformation("Call events: replica {Holder} holds the subscription; standing by", _leadership.LeaderId ?? "(none yet)");
        var term = await _leadership.WhenLeaderAsync(stoppingToken);
        _logger.LogInformation("Replica {Replica} took the call events subscription over", _leadership.ReplicaId);
        return term;
    }

    private void OnReceiverChanged(object? sender, EventReceiverChanged e)
    {
        _logger.LogInformation("Event receiver is now {Receiver}: {Reason}", e.Receiver?.LocalJid?.ToString() ?? "(none)", e.Reason);
        TaskCompletionSource changed;
        lock (_gate)
        {
            _generation++;
            _session?.Cancel();
            changed = _changed;
            _changed = NewSignal();
        }
        changed.TrySetResult();
    }

    private (int Generation, Task Changed) Observe()
    {
        lock (_gate) return (_generation, _changed.Task);
    }

    private async Task WaitAsync(Task changed, TimeSpan? delay, CancellationToken cancellationToken)
    {
        try
        {
            if (delay is { } d) await changed.WaitAsync(d, _time, cancellationToken);
            else await changed.WaitAsync(cancellationToken);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>Authorise, subscribe, reconcile, then renew until cancelled or the event stream fails.</summary>
    private async Task RunSessionAsync(IEventConnection receiver, Jid subscriber, ReconnectBackoff backoff, CancellationToken cancellationToken)
    {
        var node = ActiveCallsNodes.ForJid(subscriber);
        var pubSub = new PubSubClient(receiver);
        SetState(EventsState.Subscribing, subscriber.ToString(), node, null);
        _followed.ReceiverChanged();

        // The reader exists before the subscribe request, so the subscribed message and the first items are not missed.
        using var reader = new PubSubEventReader(receiver, Service);
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var readerStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = Task.Run(() => ReadEventsAsync(reader, subscriber, node, subscribed, readerStop.Token), CancellationToken.None);
        try
        {
            // Taken before each authorisation pass, so a change to the team during one is not missed.
            var followedChanged = _followed.Changed;
            var authorizedUntil = await _authorizer.AuthorizeAllAsync(receiver, subscriber, cancellationToken);
            var expire = ExpiryFor(authorizedUntil);
            var subscription = await EnsureSubscriptionAsync(pubSub, subscriber, node, expire, subscribed.Task, cancellationToken);
            _previousSubscriber = subscriber;
            SetState(EventsState.Active, subscriber.ToString(), subscription.Node, expire);
            backoff.Reset();
            // Timed from the subscription, not from the end of the first reconciliation (which may take a while).
            var renewAt = _time.GetUtcNow() + RenewDelay(expire);
            var reconcileAt = _time.GetUtcNow() + _options.ReconcileInterval;
            await ReconcileAsync(pubSub, node, cancellationToken);
            _logger.LogDebug("Call events subscription renews at {RenewAt:O}", renewAt);

            while (true)
            {
                var next = renewAt < reconcileAt ? renewAt : reconcileAt;
                var wait = next - _time.GetUtcNow();
                using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var due = Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, waiting.Token);
                var woke = await Task.WhenAny(due, reading, followedChanged);
                if (woke == reading)
                {
                    await reading; // throws why the stream ended
                    throw new InvalidOperationException("The event stream of the receiver ended.");
                }
                if (woke == followedChanged)
                {
                    await waiting.CancelAsync();
                    followedChanged = _followed.Changed;
                    await _authorizer.AuthorizePendingAsync(receiver, subscriber, cancellationToken);
                    continue;
                }
                await due;
                if (_time.GetUtcNow() >= reconcileAt)
                {
                    await ReconcilePeriodicallyAsync(pubSub, node, cancellationToken);
                    await _authorizer.AuthorizePendingAsync(receiver, subscriber, cancellationToken);
                    reconcileAt = _time.GetUtcNow() + _options.ReconcileInterval;
                }
                if (_time.GetUtcNow() < renewAt) continue;
                authorizedUntil = await _authorizer.AuthorizeAllAsync(receiver, subscriber, cancellationToken);
                expire = ExpiryFor(authorizedUntil);
                await pubSub.SetOptionsAsync(Service, subscription.Node, subscriber, subscription.SubId, SubscribeOptions.ForCollection(expire), cancellationToken);
                SetState(EventsState.Active, subscriber.ToString(), subscription.Node, expire);
                renewAt = _time.GetUtcNow() + RenewDelay(expire);
                _logger.LogInformation("Renewed the call events subscription of {Subscriber} on {Node} until {Expire:O}", subscriber, subscription.Node, expire);
            }
        }
        finally
        {
            await readerStop.CancelAsync();
            reader.Dispose();
            try { await reading; }
            catch (Exception) { /* the session's own outcome is what gets reported */ }
        }
    }

    private async Task<Subscription> EnsureSubscriptionAsync(
        PubSubClient pubSub, Jid subscriber, string node, DateTimeOffset expire, Task subscribed, CancellationToken cancellationToken)
    {
        var options = SubscribeOptions.ForCollection(expire);
        var existing = await pubSub.GetSubscriptionsAsync(Service, node, cancellationToken);
        if (existing.Count >= SubscriptionLimitPerNode - 1)
            _logger.LogWarning("{Count} subscriptions on {Node} (the service allows {Limit}); stale ones of other resources should be removed",
                existing.Count, node, SubscriptionLimitPerNode);

        // After a fail-over the previous receiver's subscription is ours to clean up; with replicas, so is every other
        // resource's of this account (a replica that held the lease before, and may be gone).
        foreach (var stale in existing.Where(s => s.Jid != subscriber &&
                                                  (s.Jid == _previousSubscriber || (_replicated && s.Jid.Bare == subscriber.Bare))))
        {
            try
            {
                await pubSub.UnsubscribeAsync(Service, stale.Node, stale.Jid, stale.SubId, cancellationToken);
                _logger.LogInformation("Removed the subscription of the previous event receiver {Previous}", stale.Jid);
            }
            catch (XmppStanzaErrorException e)
            {
                _logger.LogWarning("Could not remove the subscription of the previous event receiver {Previous}: {Reason}", stale.Jid, e.Message);
            }
        }

        var mine = existing.FirstOrDefault(s => s.Jid == subscriber && s.State == SubscriptionState.Subscribed);
        if (mine is not null)
        {
            await pubSub.SetOptionsAsync(Service, mine.Node, subscriber, mine.SubId, options, cancellationToken);
            _logger.LogInformation("Reusing the call events subscription of {Subscriber} on {Node} (renewed until {Expire:O})", subscriber, mine.Node, expire);
            return mine;
        }

        var subscription = await pubSub.SubscribeAsync(Service, node, subscriber, options, cancellationToken);
        switch (subscription.State)
        {
            case SubscriptionState.Subscribed:
                break;
            case SubscriptionState.Pending:
                _logger.LogDebug("Subscription of {Subscriber} to {Node} is pending; waiting for the subscribed message", subscriber, subscription.Node);
                try { await subscribed.WaitAsync(_options.SubscribedTimeout, _time, cancellationToken); }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"The subscription to {subscription.Node} stayed pending: no subscribed message within {_options.SubscribedTimeout}.");
                }
                break;
            default:
                throw new InvalidOperationException($"The service answered the subscription to {subscription.Node} with '{subscription.State}'.");
        }
        _logger.LogInformation("Subscribed {Subscriber} to call events on {Node} of {Service} until {Expire:O}", subscriber, subscription.Node, Service, expire);
        return subscription;
    }

    /// <summary>Tells the tracker which legs exist now, so calls that ended (or moved on) while unsubscribed catch up.</summary>
    private async Task ReconcileAsync(PubSubClient pubSub, string node, CancellationToken cancellationToken)
    {
        var asOf = _time.GetUtcNow();
        var items = await pubSub.GetItemsAsync(Service, node, cancellationToken: cancellationToken);
        var current = new List<(string, string, ActiveCallItem)>(items.Count);
        foreach (var item in items)
        {
            if (ActiveCallItem.TryParse(item, out var call)) current.Add((item.Id, item.Node, call));
        }
        var result = await _calls.ReconcileAsync(current, asOf, cancellationToken);
        // Every minute when nothing vanished: not worth an information line each time.
        _logger.Log(result.LegsEnded > 0 ? LogLevel.Information : LogLevel.Debug,
            "Reconciled calls with {Count} current legs of {Node}: {Ended} vanished legs ended, {Updated} legs updated",
            current.Count, node, result.LegsEnded, result.LegsApplied);
    }

    /// <summary>A failed periodic check is not a failed subscription: the next one (or a resubscription, if the stream is
    /// really gone) catches up.</summary>
    private async Task ReconcilePeriodicallyAsync(PubSubClient pubSub, string node, CancellationToken cancellationToken)
    {
        try
        {
            await ReconcileAsync(pubSub, node, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Checking the calls against the current items of {Node} failed: {Reason}", node, e.Message);
        }
    }

    private async Task ReadEventsAsync(PubSubEventReader reader, Jid subscriber, string node, TaskCompletionSource subscribed, CancellationToken cancellationToken)
    {
        await foreach (var e in reader.ReadAllAsync(cancellationToken))
        {
            switch (e)
            {
                case PubSubEvent.ItemsPublished published:
                    foreach (var item in published.Items)
                    {
                        if (!ActiveCallItem.TryParse(item, out var call))
                        {
                            _logger.LogDebug("Ignoring item {ItemId} on {Node}: no active-call payload", item.Id, item.Node);
                            continue;
                        }
                        try
                        {
                            await _calls.ApplyPublishedAsync(call, item.Id, item.Node, cancellationToken);
                            Interlocked.Increment(ref _itemsApplied);
                        }
                        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                        {
                            _logger.LogWarning(ex, "Could not apply item {ItemId} of {Node}", item.Id, item.Node);
                        }
                    }
                    break;
                case PubSubEvent.ItemsRetracted retracted:
                    foreach (var id in retracted.ItemIds.Where(id => id.Length > 0))
                    {
                        await _calls.ApplyRetractedAsync(id, cancellationToken);
                        Interlocked.Increment(ref _retractsApplied);
                    }
                    break;
                case PubSubEvent.SubscriptionChanged changed when IsOurs(changed, subscriber, node):
                    if (changed.State == SubscriptionState.Subscribed) subscribed.TrySetResult();
                    else if (changed.State == SubscriptionState.None)
                        throw new InvalidOperationException($"The service ended the subscription of {subscriber} to {changed.Node}.");
                    break;
                case PubSubEvent.NodeDeleted or PubSubEvent.NodePurged:
                    _logger.LogInformation("PubSub {Event} on {Node}", e.GetType().Name, e.Node);
                    break;
            }
        }
    }

    private static bool IsOurs(PubSubEvent.SubscriptionChanged changed, Jid subscriber, string node) =>
        (changed.Node.Length == 0 || changed.Node == node) && (changed.Jid == subscriber || (changed.Jid.IsBare && changed.Jid == subscriber.Bare));

    /// <summary>The expiry asked for: the authorisation's end when the Auth component says it (the subscription cannot
    /// outlive it), else now + <see cref="EventsOptions.SubscriptionLifetime"/>.</summary>
    private DateTimeOffset ExpiryFor(DateTimeOffset? authorizedUntil)
    {
        var now = _time.GetUtcNow();
        var fallback = now + _options.SubscriptionLifetime;
        return authorizedUntil is { } until && until > now && until < fallback ? until : fallback;
    }

    private TimeSpan RenewDelay(DateTimeOffset expire)
    {
        var remaining = expire - _time.GetUtcNow();
        var delay = TimeSpan.FromTicks((long)(remaining.Ticks * _options.RenewAt));
        return delay < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : delay;
    }

    private void SetState(EventsState state, string? receiver, string? node, DateTimeOffset? expires, string? error = null, bool keepError = false)
    {
        lock (_gate)
        {
            _status = _status with
            {
                State = state,
                Receiver = receiver,
                Node = node,
                ExpiresAt = expires,
                LastError = error ?? (keepError || state != EventsState.Active ? _status.LastError : null),
            };
        }
    }

    internal static string Describe(Exception e) => e is XmppStanzaErrorException stanza
        ? $"{stanza.Error.Condition}: {stanza.Error.Text ?? stanza.Message}"
        : e.Message;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
