using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Gateway.Api.Configuration;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls;

/// <summary>What <see cref="CallRegistry.Reconcile"/> did: current items applied, vanished legs ended.</summary>
public sealed record ReconcileResult(int LegsApplied, int LegsEnded);

/// <summary>The call-setup-id is taken by another call the registry knows.</summary>
public sealed class CallSetupIdInUseException(string callSetupId)
    : Exception($"The call-setup-id '{callSetupId}' is already used by another call.")
{
    public string CallSetupId { get; } = callSetupId;
}

/// <summary>A create command in flight: the registry holds the events of its call-setup-id until it completes.</summary>
public sealed record CreateTicket(string CallSetupId);

/// <summary>What a hang-up has to send, decided from the registry's view of the call.</summary>
public abstract record HangupPlan
{
    private HangupPlan() { }

    /// <summary>The call is over: answer its final state, send nothing.</summary>
    public sealed record AlreadyEnded(CallResource Call) : HangupPlan;
    /// <summary>The call exists but no leg has been seen, so there is no SIP dialog to address yet.</summary>
    public sealed record NotReady(CallResource Call) : HangupPlan;
    /// <summary>One command per live dialog: <c>terminate</c> for answered ones, <c>cancel</c> for ringing ones.</summary>
    public sealed record Send(CallResource Call, IReadOnlyList<HangupCommand> Commands) : HangupPlan;
}

/// <summary>One hang-up command: <c>terminate(call-id, from-tag, to-tag)</c> when <see cref="ToTag"/> is set, else <c>cancel(call-id, from-tag)</c>.</summary>
public sealed record HangupCommand(string CallId, string FromTag, string? ToTag)
{
    public bool IsTerminate => ToTag is not null;
}

/// <summary>The dialog a transfer addresses.</summary>
public sealed record TransferDialog(string CallId, string FromTag, string ToTag);

/// <summary>
/// Receives every event the registry publishes, in publication order, while the registry holds its lock: nothing can be
/// lost or reordered between the registry and the sink, and a <see cref="CallRegistry.SnapshotWith{T}"/> callback sees
/// the sink exactly as of the calls it returns. <see cref="Append"/> must be quick and must never block or call back into
/// the registry.
/// </summary>
public interface ICallEventSink
{
    void Append(CallEvent e);
}

/// <summary>A reader of the registry's event stream: events of all calls, in the order they happened, none ever lost.
/// The buffer is unbounded rather than waiting for room, since events are published under the registry's lock, which a
/// slow reader must never hold up; readers (webhooks) hand each event to storage at once.</summary>
public sealed class CallEventSubscription : IDisposable
{
    private readonly CallRegistry _owner;
    // Not single-reader: that variant cannot count, and a reader's backlog is worth reporting (webhooks' health).
    private readonly Channel<CallEvent> _channel = Channel.CreateUnbounded<CallEvent>(new UnboundedChannelOptions { SingleReader = false });

    internal CallEventSubscription(CallRegistry owner) => _owner = owner;

    public ChannelReader<CallEvent> Reader => _channel.Reader;

    public IAsyncEnumerable<CallEvent> ReadAllAsync(CancellationToken cancellationToken = default) => _channel.Reader.ReadAllAsync(cancellationToken);

    internal void Write(CallEvent e) => _channel.Writer.TryWrite(e);

    internal void Complete() => _channel.Writer.TryComplete();

    public void Dispose()
    {
        _owner.Unsubscribe(this);
        Complete();
    }
}

/// <summary>
/// The gateway's view of calls: in memory, thread-safe, bounded, driven by a <see cref="TimeProvider"/>.
/// <list type="bullet">
/// <item>Legs are PubSub items (one SIP dialog at one UA), keyed by item id, grouped into calls by call-setup-id or,
/// without one, by SIP Call-ID.</item>
/// <item>Calls are keyed by call-setup-id (or <c>c_</c> + a hash of the SIP Call-ID); each has a summarised state and an
/// event history with per-call sequence numbers and stable ids.</item>
/// <item>Events carrying a call-setup-id that no completed create has claimed are held (seed note [1]: they can arrive
/// before the create result): the create's completion releases them after <c>call.requested</c>, or they are released as
/// a call of their own after <see cref="CallRegistryOptions.EarlyEventHoldTime"/>.</item>
/// <item>A leg never goes back (a <c>requested</c> after its <c>confirmed</c>, an older publish-time, a publish after its
/// retract, a duplicate: all ignored), and events are emitted only when the summarised state or a leg changes, so
/// duplicated and reordered notifications produce no duplicated or reordered events.</item>
/// </list>
/// The events feature (PubSub subscription) feeds it through <see cref="ApplyItemPublished"/> and
/// <see cref="ApplyItemRetracted"/>; the call stream's log receives its events as an <see cref="ICallEventSink"/>, and
/// other readers (webhooks) use <see cref="Subscribe"/>.
/// </summary>
public sealed class CallRegistry : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CallRecord> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallRecord> _byItemId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallRecord> _bySipCallId = new(StringComparer.Ordinal);
    private readonly List<CallEventSubscription> _subscribers = [];
    private readonly ICallEventSink[] _sinks;
    private readonly Channel<string> _readyHangups = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CallRegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CallRegistry> _logger;
    private readonly ITimer _sweeper;
    private long _order;

    public CallRegistry(IOptions<CallRegistryOptions> options, TimeProvider time, ILogger<CallRegistry> logger, IEnumerable<ICallEventSink>? sinks = null)
    {
        _sinks = sinks?.ToArray() ?? [];
        _options = options.Value;
        _time = time;
        _logger = logger;
        _sweeper = time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Calls held in memory (held and ended ones included).</summary>
    public int Count { get { lock (_gate) return _calls.Count; } }

    // ---- command side ------------------------------------------------------------------------------------------

    /// <summary>Registers a create about to be sent, so events of its call-setup-id are held for it.</summary>
    /// <exception cref="CallSetupIdInUseException">a known call or another create in flight uses the id.</exception>
    public CreateTicket BeginCreate(string callSetupId, string from, string to, string? owner)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (_calls.TryGetValue(callSetupId, out var record))
            {
                if (record.Confirmed || record.CreateInFlight) throw new CallSetupIdInUseException(callSetupId);
            }
            else
            {
                record = NewRecord(callSetupId, callSetupId, now, confirmed: false);
            }
            record.From = from;
            record.To = to;
            record.Owner = owner;
            record.RequestedByApi = true;
            record.CreateInFlight = true;
            record.HoldUntil = null;
            foreach (var leg in record.Legs.Values) leg.Role = RoleOf(record, leg.Item);
            Evict();
            return new CreateTicket(callSetupId);
        }
    }

    /// <summary>The create succeeded: the call becomes visible under the call-setup-id the component returned, with
    /// <c>call.requested</c> first and then whatever its held events say.</summary>
    public CallResource CompleteCreate(CreateTicket ticket, string resultCallSetupId)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (!_calls.TryGetValue(ticket.CallSetupId, out var record))
                throw new InvalidOperationException($"No create in flight for '{ticket.CallSetupId}'.");
            record.CreateInFlight = false;
            if (!string.Equals(resultCallSetupId, ticket.CallSetupId, StringComparison.Ordinal))
            {
                _logger.LogWarning("The component answered call-setup-id {Result} to a create sent with {Sent}", resultCallSetupId, ticket.CallSetupId);
                _calls.Remove(ticket.CallSetupId);
                if (_calls.Remove(resultCallSetupId, out var early))
                {
                    foreach (var (itemId, leg) in early.Legs)
                    {
                        record.Legs[itemId] = leg;
                        _byItemId[itemId] = record;
                        if (leg.Item.CallId is { } sipCallId) _bySipCallId[sipCallId] = record;
                    }
                    record.Held.AddRange(early.Held);
                    record.State = early.State; // its held events already tell how it got there
                }
                record.Id = resultCallSetupId;
                record.CallSetupId = resultCallSetupId;
                _calls[resultCallSetupId] = record;
                foreach (var leg in record.Legs.Values) leg.Role = RoleOf(record, leg.Item);
                Update(record, now);
            }
            Release(record, now);
            return Snapshot(record);
        }
    }

    /// <summary>The create failed. When it surely did nothing (an error answer, never sent) the call is forgotten;
    /// when its outcome is unknown (timeout, stream lost after sending) the call is kept as held: it is published if
    /// legs show up, and dropped after <see cref="CallRegistryOptions.EarlyEventHoldTime"/> otherwise.</summary>
    public void AbandonCreate(CreateTicket ticket, bool outcomeUnknown)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        lock (_gate)
        {
            if (!_calls.TryGetValue(ticket.CallSetupId, out var record) || !record.CreateInFlight) return;
            var now = _time.GetUtcNow();
            record.CreateInFlight = false;
            if (record.Legs.Count > 0) Release(record, now);
            else if (outcomeUnknown) record.HoldUntil = now + _options.EarlyEventHoldTime;
            else Remove(record);
        }
    }

    /// <summary>Decides what <c>DELETE /calls/{id}</c> sends: per live dialog, <c>terminate</c> when answered,
    /// <c>cancel</c> when still ringing; nothing when the call is over. Null when the call is unknown.</summary>
    public HangupPlan? PlanHangup(string idOrSipCallId)
    {
        lock (_gate)
        {
            if (FindRecord(idOrSipCallId) is not { } record) return null;
            var snapshot = Snapshot(record);
            if (record.State == CallState.Ended) return new HangupPlan.AlreadyEnded(snapshot);
            var commands = new List<HangupCommand>();
            foreach (var dialog in record.Legs.Values
                         .Where(l => !l.Retracted && l.Item.CallId is not null && l.Item.FromTag is not null)
                         .GroupBy(l => (l.Item.CallId!, l.Item.FromTag!)))
            {
                var answered = dialog.FirstOrDefault(l => l.Item.DialogState == ActiveCallDialogState.Confirmed && l.Item.ToTag is not null);
                commands.Add(new HangupCommand(dialog.Key.Item1, dialog.Key.Item2, answered?.Item.ToTag));
            }
            // Answered dialogs first: ending the talking parties matters most if a later command fails.
            commands.Sort((a, b) => b.IsTerminate.CompareTo(a.IsTerminate));
            return commands.Count == 0 ? new HangupPlan.NotReady(snapshot) : new HangupPlan.Send(snapshot, commands);
        }
    }

    /// <summary>Hang-up asked for before any leg was seen: recorded as <c>call.hangup-requested</c> and carried out by
    /// <see cref="ReadyHangups"/>' reader as soon as a leg gives a dialog to cancel. Returns the call, or null if unknown.</summary>
    public CallResource? DeferHangup(string idOrSipCallId)
    {
        lock (_gate)
        {
            if (FindRecord(idOrSipCallId) is not { State: not CallState.Ended } record) return null;
            if (!record.HangupPending)
            {
                record.HangupPending = true;
                record.Hangup ??= CallEndReason.Canceled;
                Emit(record, "call.hangup-requested", _time.GetUtcNow());
            }
            return Snapshot(record);
        }
    }

    /// <summary>Ids of calls with a deferred hang-up that now have a dialog to address; take it with <see cref="TakeDeferredHangup"/>.</summary>
    public ChannelReader<string> ReadyHangups => _readyHangups.Reader;

    /// <summary>Claims a deferred hang-up (once): the plan to carry out, or null when there is nothing (left) to do.</summary>
    public HangupPlan.Send? TakeDeferredHangup(string id)
    {
        lock (_gate)
        {
            if (!_calls.TryGetValue(id, out var record) || !record.HangupPending) return null;
            if (PlanHangup(id) is not HangupPlan.Send plan) return null;
            record.HangupPending = false;
            return plan;
        }
    }

    /// <summary>The answered dialog a transfer addresses (the callee side's, else any answered one), or null.</summary>
    public TransferDialog? FindTransferDialog(string idOrSipCallId)
    {
        lock (_gate)
        {
            if (FindRecord(idOrSipCallId) is not { State: not CallState.Ended } record) return null;
            var leg = record.Legs.Values
                .Where(l => !l.Retracted && l.Item.DialogState == ActiveCallDialogState.Confirmed && l.Item.CallId is not null && l.Item.FromTag is not null && l.Item.ToTag is not null)
                .OrderBy(l => l.Role == LegRole.Callee ? 0 : 1)
                .FirstOrDefault();
            return leg is null ? null : new TransferDialog(leg.Item.CallId!, leg.Item.FromTag!, leg.Item.ToTag!);
        }
    }

    /// <summary>Notes that hang-up commands are being sent, before the first one leaves: the component may retract the legs
    /// before it answers, and the call must then end as canceled/terminated rather than completed.</summary>
    public void BeginHangup(string id, bool terminate)
    {
        lock (_gate)
        {
            if (FindRecord(id) is not { State: not CallState.Ended } record) return;
            record.HangupInFlight = terminate ? CallEndReason.Terminated : CallEndReason.Canceled;
        }
    }

    /// <summary>The hang-up commands failed: legs that end from now on end the call for their own reasons.</summary>
    public void AbandonHangup(string id)
    {
        lock (_gate)
        {
            if (FindRecord(id) is { } record) record.HangupInFlight = null;
        }
    }

    /// <summary>Records a successful hang-up command (the end reason becomes canceled/terminated) as <c>call.hangup-requested</c>.</summary>
    public void RecordHangupRequested(string id, bool terminate)
    {
        lock (_gate)
        {
            if (FindRecord(id) is not { State: not CallState.Ended } record) return;
            record.Hangup = terminate ? CallEndReason.Terminated : record.Hangup ?? CallEndReason.Canceled;
            Emit(record, "call.hangup-requested", _time.GetUtcNow());
        }
    }

    /// <summary>Records a successful transfer command as <c>call.transfer-requested</c>; its outcome shows in later events.</summary>
    public void RecordTransferRequested(string id)
    {
        lock (_gate)
        {
            if (FindRecord(id) is not { State: not CallState.Ended } record) return;
            Emit(record, "call.transfer-requested", _time.GetUtcNow());
        }
    }

    // ---- reads -------------------------------------------------------------------------------------------------

    /// <summary>A visible call by its id or the SIP Call-ID of one of its legs.</summary>
    public CallResource? Find(string idOrSipCallId)
    {
        lock (_gate) return FindRecord(idOrSipCallId) is { } record ? Snapshot(record) : null;
    }

    /// <summary>A page of visible calls, oldest first. Without <paramref name="state"/> ended calls are left out.</summary>
    /// <param name="address">Only calls with a party or leg at this SIP address (<c>user@domain</c> or a SIP URI).</param>
    /// <param name="after">The cursor: the position after which the page starts (0 for the first page).</param>
    /// <param name="visible">Which calls the caller may see (API key scope).</param>
    public (IReadOnlyList<CallResource> Items, long? Next) List(string? address, CallState? state, long after, int limit, Func<CallResource, bool>? visible = null)
    {
        var wanted = SipUri.AddressOf(address);
        lock (_gate)
        {
            var page = new List<CallResource>(limit);
            long? next = null;
            long lastOrder = after;
            foreach (var record in _calls.Values.Where(r => r.Confirmed && r.Order > after).OrderBy(r => r.Order))
            {
                if (state is { } s ? record.State != s : record.State == CallState.Ended) continue;
                if (wanted is not null && !Addresses(record).Any(a => string.Equals(SipUri.AddressOf(a), wanted, StringComparison.Ordinal))) continue;
                var snapshot = Snapshot(record);
                if (visible is not null && !visible(snapshot)) continue;
                if (page.Count == limit)
                {
                    next = lastOrder;
                    break;
                }
                page.Add(snapshot);
                lastOrder = record.Order;
            }
            return (page, next);
        }
    }

    /// <summary>
    /// Hands the visible calls <paramref name="include"/> selects (ended ones only with <paramref name="includeEnded"/>),
    /// oldest first, to <paramref name="whileLocked"/> while the registry's lock is held: no event is published meanwhile,
    /// so what an <see cref="ICallEventSink"/> reports in the callback is exactly as of these calls.
    /// </summary>
    public T SnapshotWith<T>(Func<CallResource, bool> include, bool includeEnded, Func<IReadOnlyList<CallResource>, T> whileLocked)
    {
        ArgumentNullException.ThrowIfNull(include);
        ArgumentNullException.ThrowIfNull(whileLocked);
        lock (_gate)
        {
            var calls = new List<CallResource>();
            foreach (var record in _calls.Values.Where(r => r.Confirmed && (includeEnded || r.State != CallState.Ended)).OrderBy(r => r.Order))
            {
                var snapshot = Snapshot(record);
                if (include(snapshot)) calls.Add(snapshot);
            }
            return whileLocked(calls);
        }
    }

    /// <summary>A visible call's events after sequence <paramref name="afterSequence"/>, or null when the call is unknown.</summary>
    public (CallResource Call, IReadOnlyList<CallEvent> Events)? GetEvents(string idOrSipCallId, long afterSequence = 0)
    {
        lock (_gate)
        {
            if (FindRecord(idOrSipCallId) is not { } record) return null;
            return (Snapshot(record), record.Events.Where(e => e.Sequence > afterSequence).ToList());
        }
    }

    /// <summary>Every address of a call: its parties and each leg's from, to and to-aor.</summary>
    public static IEnumerable<string?> AddressesOf(CallResource call)
    {
        ArgumentNullException.ThrowIfNull(call);
        yield return call.From;
        yield return call.To;
        foreach (var leg in call.Legs)
        {
            yield return leg.FromUri;
            yield return leg.ToUri;
            yield return leg.ToAor;
        }
    }

    // ---- PubSub side -------------------------------------------------------------------------------------------

    /// <summary>An <c>onsip:active-calls</c> item was published (or re-published) on <paramref name="node"/>.</summary>
    public void ApplyItemPublished(ActiveCallItem item, string itemId, string node)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (_byItemId.TryGetValue(itemId, out var record))
            {
                var leg = record.Legs[itemId];
                if (leg.Retracted || record.State == CallState.Ended) return;
                if (Rank(item.DialogState) < Rank(leg.Item.DialogState)) return;
                if (item.PublishTime is { } t && leg.Item.PublishTime is { } p && t < p) return;
                leg.LastSeenAt = now;
                if (item == leg.Item) return;
                leg.Item = item;
                leg.Node = node;
            }
            else
            {
                record = Locate(item, itemId, now);
                if (record.State == CallState.Ended)
                {
                    _logger.LogDebug("Ignoring leg {ItemId} of ended call {CallId}", itemId, record.Id);
                    return;
                }
                var leg = new LegRecord(itemId, node, item, now) { Role = RoleOf(record, item) };
                record.Legs[itemId] = leg;
                _byItemId[itemId] = record;
                if (item.CallId is { } sipCallId) _bySipCallId.TryAdd(sipCallId, record);
                if (record.CallSetupId is null)
                {
                    record.From ??= item.FromUri;
                    record.To ??= item.ToUri;
                }
                else if (leg.Role == LegRole.Caller) record.From ??= item.ToUri;
                else record.To ??= item.ToUri;
            }
            record.UpdatedAt = now;
            Update(record, now, legsChanged: true);
            if (record.HangupPending && record.Confirmed && record.State != CallState.Ended) _readyHangups.Writer.TryWrite(record.Id);
            Evict();
        }
    }

    /// <summary>An item was retracted: that leg ended. Unknown item ids are ignored (nothing to attribute them to).</summary>
    public void ApplyItemRetracted(string itemId, string node)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemId);
        lock (_gate)
        {
            if (!_byItemId.TryGetValue(itemId, out var record)) return;
            var leg = record.Legs[itemId];
            if (leg.Retracted) return;
            var now = _time.GetUtcNow();
            leg.Retracted = true;
            leg.EndedAt = now;
            record.LastRetractAt = now;
            record.UpdatedAt = now;
            Update(record, now, legsChanged: true);
        }
    }

    /// <summary>
    /// Brings the registry in line with the items that exist now (fetched after a (re)subscription): every current item
    /// is applied like a notification (so missed transitions are emitted), and every live leg the registry knows that is
    /// not among them ended while nobody was listening, so it is retracted (ending its call when it was the last).
    /// Legs seen after <paramref name="snapshotRequestedAt"/> are spared: a notification newer than the fetch wins.
    /// </summary>
    public ReconcileResult Reconcile(IReadOnlyCollection<(string ItemId, string Node, ActiveCallItem Item)> current, DateTimeOffset? snapshotRequestedAt = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        var applied = 0;
        foreach (var (itemId, node, item) in current)
        {
            if (string.IsNullOrEmpty(itemId)) continue;
            ApplyItemPublished(item, itemId, node);
            applied++;
        }
        var present = current.Select(c => c.ItemId).ToHashSet(StringComparer.Ordinal);
        var ended = 0;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var record in _calls.Values.Where(r => r.State != CallState.Ended).ToList())
            {
                var vanished = record.Legs.Values
                    .Where(l => !l.Retracted && !present.Contains(l.ItemId) && (snapshotRequestedAt is not { } asOf || l.LastSeenAt <= asOf))
                    .ToList();
                if (vanished.Count == 0) continue;
                foreach (var leg in vanished)
                {
                    leg.Retracted = true;
                    leg.EndedAt = now;
                    ended++;
                }
                _logger.LogInformation("Reconciliation: {Count} legs of call {CallId} ended while events were not received", vanished.Count, record.Id);
                record.LastRetractAt = now;
                record.UpdatedAt = now;
                Update(record, now, legsChanged: true);
            }
        }
        return new ReconcileResult(applied, ended);
    }

    /// <summary>Starts a reader of every call event from now on (see <see cref="CallEventSubscription"/>).</summary>
    public CallEventSubscription Subscribe()
    {
        var subscription = new CallEventSubscription(this);
        lock (_gate) _subscribers.Add(subscription);
        return subscription;
    }

    internal void Unsubscribe(CallEventSubscription subscription)
    {
        lock (_gate) _subscribers.Remove(subscription);
    }

    /// <summary>Applies time: releases or drops held events, ends calls whose grace or setup time ran out, forgets ended
    /// calls after their retention. Runs every second on the registry's <see cref="TimeProvider"/>.</summary>
    public void Sweep()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var record in _calls.Values.ToList())
            {
                if (!record.Confirmed)
                {
                    if (!record.CreateInFlight && record.HoldUntil <= now)
                    {
                        if (record.Legs.Count > 0) Release(record, now);
                        else Remove(record);
                    }
                    continue;
                }
                if (record.State != CallState.Ended)
                {
                    if (record.GraceUntil <= now) Update(record, now);
                    else if (record.Legs.Count == 0 && now - record.CreatedAt >= _options.SetupTimeout) End(record, CallEndReason.SetupTimeout, now);
                }
                else if (record.EndedAt + _options.EndedRetention <= now)
                {
                    Remove(record);
                }
            }
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        _readyHangups.Writer.TryComplete();
        lock (_gate)
        {
            foreach (var subscriber in _subscribers) subscriber.Complete();
            _subscribers.Clear();
        }
    }

    // ---- internals (all under _gate) ---------------------------------------------------------------------------

    private CallRecord? FindRecord(string idOrSipCallId)
    {
        if (_calls.TryGetValue(idOrSipCallId, out var record) && record.Confirmed) return record;
        return _bySipCallId.TryGetValue(idOrSipCallId, out record) && record.Confirmed ? record : null;
    }

    private CallRecord Locate(ActiveCallItem item, string itemId, DateTimeOffset now)
    {
        if (item.CallSetupId is { } setupId)
        {
            if (_calls.TryGetValue(setupId, out var bySetup)) return bySetup;
            var held = NewRecord(setupId, setupId, now, confirmed: false);
            held.HoldUntil = now + _options.EarlyEventHoldTime;
            return held;
        }
        if (item.CallId is { } sipCallId && _bySipCallId.TryGetValue(sipCallId, out var byCallId)) return byCallId;
        var id = PlainCallId(item.CallId ?? itemId);
        return _calls.TryGetValue(id, out var existing) ? existing : NewRecord(id, null, now, confirmed: true);
    }

    /// <summary>The id of a call made without a create command: <c>c_</c> + 16 hex of SHA-256(SIP Call-ID), the same in
    /// every gateway replica and across restarts.</summary>
    public static string PlainCallId(string sipCallId) =>
        "c_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sipCallId)))[..16];

    private CallRecord NewRecord(string id, string? callSetupId, DateTimeOffset now, bool confirmed)
    {
        var record = new CallRecord(id, callSetupId, now, ++_order) { Confirmed = confirmed };
        _calls[id] = record;
        return record;
    }

    private static int Rank(ActiveCallDialogState state) => state switch
    {
        ActiveCallDialogState.Confirmed => 2,
        ActiveCallDialogState.Created or ActiveCallDialogState.Requested => 1,
        _ => 0,
    };

    private static LegRole RoleOf(CallRecord record, ActiveCallItem item)
    {
        if (record.CallSetupId is null) return LegRole.Callee;
        var to = SipUri.AddressOf(item.ToUri);
        if (to is not null && record.From is not null && to == SipUri.AddressOf(record.From)) return LegRole.Caller;
        if (to is not null && record.To is not null && to == SipUri.AddressOf(record.To)) return LegRole.Callee;
        return item.DialogState == ActiveCallDialogState.Requested ? LegRole.Caller : LegRole.Callee;
    }

    private (CallState State, CallEndReason? Reason, DateTimeOffset? GraceUntil) Summarise(CallRecord record, DateTimeOffset now)
    {
        var legs = record.Legs.Values;
        if (legs.Count == 0) return (CallState.Requested, null, null);
        static bool Answered(LegRecord l) => l.Item.DialogState == ActiveCallDialogState.Confirmed;
        var live = legs.Where(l => !l.Retracted).ToList();
        if (live.Any(l => l.Role == LegRole.Callee && Answered(l))) return (CallState.Connected, null, null);
        if (live.Any(l => l.Role == LegRole.Callee)) return (CallState.CalleeRinging, null, null);
        if (live.Any(l => l.Role == LegRole.Caller && Answered(l))) return (CallState.CallerAnswered, null, null);
        if (live.Any(l => l.Role == LegRole.Caller)) return (CallState.CallerRinging, null, null);

        var calleeAnswered = legs.Any(l => l.Role == LegRole.Callee && Answered(l));
        var anyCallee = legs.Any(l => l.Role == LegRole.Callee);
        var callerAnswered = legs.Any(l => l.Role == LegRole.Caller && Answered(l));
        if ((record.Hangup ?? record.HangupInFlight) is { } hangup) return (CallState.Ended, hangup, null);
        if (calleeAnswered) return (CallState.Ended, CallEndReason.Completed, null);
        if (anyCallee) return (CallState.Ended, CallEndReason.CalleeNotAnswered, null);
        if (callerAnswered)
        {
            // OnSIP's flow: the answered phone is REFERred to the callee and BYEs the setup dialog, so the setup leg
            // can end before the callee leg appears. Wait a little before calling it a failure.
            var graceUntil = (record.LastRetractAt ?? now) + _options.CalleeLegGrace;
            return now < graceUntil ? (CallState.CallerAnswered, null, graceUntil) : (CallState.Ended, CallEndReason.CalleeNotReached, null);
        }
        return (CallState.Ended, CallEndReason.CallerNotAnswered, null);
    }

    /// <summary>Re-summarises the call and emits its new state; when only its legs changed (a leg answered, another one
    /// retracted, while the call as a whole stays where it is), emits <c>call.updated</c> so stream and webhook clients see
    /// every leg's state without polling.</summary>
    private void Update(CallRecord record, DateTimeOffset now, bool legsChanged = false)
    {
        var (state, reason, graceUntil) = Summarise(record, now);
        record.GraceUntil = graceUntil;
        if (state == record.State)
        {
            if (legsChanged && state != CallState.Ended) Emit(record, "call.updated", now);
            return;
        }
        if (state == CallState.Ended)
        {
            End(record, reason ?? CallEndReason.Completed, now);
            return;
        }
        record.State = state;
        record.UpdatedAt = now;
        Emit(record, "call." + StateName(state), now);
    }

    private void End(CallRecord record, CallEndReason reason, DateTimeOffset now)
    {
        record.State = CallState.Ended;
        record.EndReason = reason;
        record.EndedAt = now;
        record.UpdatedAt = now;
        record.GraceUntil = null;
        Emit(record, "call.ended", now);
    }

    /// <summary>Records an event; while the call is held it waits in <see cref="CallRecord.Held"/> (without a sequence).</summary>
    private void Emit(CallRecord record, string type, DateTimeOffset now)
    {
        var pending = new HeldEvent(type, now, Snapshot(record));
        if (!record.Confirmed)
        {
            record.Held.Add(pending);
            return;
        }
        Publish(record, pending);
    }

    private void Publish(CallRecord record, HeldEvent pending)
    {
        var sequence = ++record.LastSequence;
        var e = new CallEvent
        {
            Id = $"{record.Id}.{sequence}",
            Type = pending.Type,
            Sequence = sequence,
            OccurredAt = pending.OccurredAt,
            Call = pending.Call with { Id = record.Id, CallSetupId = record.CallSetupId },
        };
        record.Events.Add(e);
        if (record.Events.Count > _options.MaxEventsPerCall) record.Events.RemoveAt(0);
        foreach (var sink in _sinks) sink.Append(e);
        foreach (var subscriber in _subscribers) subscriber.Write(e);
    }

    /// <summary>Makes a held call visible: <c>call.requested</c> first when the API created it, then its held events.</summary>
    private void Release(CallRecord record, DateTimeOffset now)
    {
        if (record.Confirmed) return;
        record.Confirmed = true;
        record.HoldUntil = null;
        if (record.RequestedByApi)
        {
            var requested = Snapshot(record) with { State = CallState.Requested, EndReason = null, EndedAt = null, Legs = [], UpdatedAt = record.CreatedAt };
            Publish(record, new HeldEvent("call.requested", record.CreatedAt, requested));
        }
        foreach (var held in record.Held) Publish(record, held);
        record.Held.Clear();
        Update(record, now);
        if (record.HangupPending && record.Legs.Count > 0 && record.State != CallState.Ended) _readyHangups.Writer.TryWrite(record.Id);
    }

    private void Remove(CallRecord record)
    {
        _calls.Remove(record.Id);
        foreach (var (itemId, leg) in record.Legs)
        {
            if (_byItemId.TryGetValue(itemId, out var owner) && owner == record) _byItemId.Remove(itemId);
            if (leg.Item.CallId is { } sipCallId && _bySipCallId.TryGetValue(sipCallId, out owner) && owner == record) _bySipCallId.Remove(sipCallId);
        }
    }

    /// <summary>Keeps the registry bounded: the oldest ended calls go first, then the oldest idle ones. Once full it makes
    /// room for one percent more calls at a time, so the ordering pass (which sees every call) runs once per that many
    /// new calls rather than for each of them.</summary>
    private void Evict()
    {
        if (_calls.Count <= _options.MaxCalls) return;
        var keep = _options.MaxCalls - Math.Max(1, _options.MaxCalls / 100);
        var victims = _calls.Values
            .Where(r => !r.CreateInFlight)
            .OrderBy(r => r.State == CallState.Ended ? 0 : 1)
            .ThenBy(r => r.UpdatedAt)
            .ThenBy(r => r.Order)
            .Take(_calls.Count - keep)
            .ToList();
        var active = victims.Count(v => v.State != CallState.Ended);
        _logger.LogWarning("Call registry full ({Max}): forgetting {Count} calls ({Active} of them not ended), oldest first",
            _options.MaxCalls, victims.Count, active);
        foreach (var victim in victims) Remove(victim);
    }

    private static IEnumerable<string?> Addresses(CallRecord record)
    {
        yield return record.From;
        yield return record.To;
        foreach (var leg in record.Legs.Values)
        {
            yield return leg.Item.FromUri;
            yield return leg.Item.ToUri;
            yield return leg.Item.ToAor;
        }
    }

    private static CallResource Snapshot(CallRecord record) => new()
    {
        Id = record.Id,
        CallSetupId = record.CallSetupId,
        From = record.From,
        To = record.To,
        State = record.State,
        EndReason = record.State == CallState.Ended ? record.EndReason : null,
        CreatedAt = record.CreatedAt,
        UpdatedAt = record.UpdatedAt,
        EndedAt = record.EndedAt,
        Legs = [.. record.Legs.Values.Select(l => new CallLegResource
        {
            ItemId = l.ItemId,
            Node = l.Node,
            Role = l.Role,
            DialogState = l.Item.DialogStateText,
            Active = !l.Retracted,
            CallId = l.Item.CallId,
            FromUri = l.Item.FromUri,
            ToUri = l.Item.ToUri,
            FromTag = l.Item.FromTag,
            ToTag = l.Item.ToTag,
            Branch = l.Item.Branch,
            ToAor = l.Item.ToAor,
            CallSetupId = l.Item.CallSetupId,
            FromDisplay = l.Item.FromDisplay,
            ToDisplay = l.Item.ToDisplay,
            PublishTime = l.Item.PublishTime,
            FirstSeenAt = l.FirstSeenAt,
            EndedAt = l.EndedAt,
        })],
    };

    /// <summary>The wire name of a state (<c>caller-ringing</c>…).</summary>
    public static string StateName(CallState state) => state switch
    {
        CallState.Requested => "requested",
        CallState.CallerRinging => "caller-ringing",
        CallState.CallerAnswered => "caller-answered",
        CallState.CalleeRinging => "callee-ringing",
        CallState.Connected => "connected",
        CallState.Ended => "ended",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    private sealed record HeldEvent(string Type, DateTimeOffset OccurredAt, CallResource Call);

    private sealed class CallRecord(string id, string? callSetupId, DateTimeOffset createdAt, long order)
    {
        public string Id { get; set; } = id;
        public string? CallSetupId { get; set; } = callSetupId;
        public long Order { get; } = order;
        public string? From { get; set; }
        public string? To { get; set; }
        public string? Owner { get; set; }
        public bool RequestedByApi { get; set; }
        public bool CreateInFlight { get; set; }
        /// <summary>Visible, and its events published (false while held).</summary>
        public bool Confirmed { get; set; }
        public DateTimeOffset? HoldUntil { get; set; }
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public DateTimeOffset UpdatedAt { get; set; } = createdAt;
        public CallState State { get; set; } = CallState.Requested;
        public CallEndReason? EndReason { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
        public DateTimeOffset? LastRetractAt { get; set; }
        public DateTimeOffset? GraceUntil { get; set; }
        public CallEndReason? Hangup { get; set; }
        /// <summary>A hang-up command is on its way: legs ending meanwhile end the call for that reason, not "completed".</summary>
        public CallEndReason? HangupInFlight { get; set; }
        public bool HangupPending { get; set; }
        public Dictionary<string, LegRecord> Legs { get; } = new(StringComparer.Ordinal);
        public List<CallEvent> Events { get; } = [];
        public List<HeldEvent> Held { get; } = [];
        public long LastSequence { get; set; }
    }

    private sealed class LegRecord(string itemId, string node, ActiveCallItem item, DateTimeOffset firstSeenAt)
    {
        public string ItemId { get; } = itemId;
        public string Node { get; set; } = node;
        public ActiveCallItem Item { get; set; } = item;
        public LegRole Role { get; set; }
        public DateTimeOffset FirstSeenAt { get; } = firstSeenAt;
        /// <summary>When a notification or a fetch last showed this leg (reconciliation spares legs seen after its snapshot).</summary>
        public DateTimeOffset LastSeenAt { get; set; } = firstSeenAt;
        public bool Retracted { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
    }
}
