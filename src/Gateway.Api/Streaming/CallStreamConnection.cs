using System.Security.Cryptography;
using System.Threading.Channels;

namespace Gateway.Api.Streaming;

/// <summary>Where a connection's messages go: a SignalR connection or a server-sent-events response.</summary>
public interface ICallStreamSink
{
    /// <summary>How long the stream may stay silent before <see cref="SendHeartbeatAsync"/>; null for never.</summary>
    TimeSpan? HeartbeatInterval { get; }

    ValueTask SendSnapshotAsync(CallSnapshotMessage message, CancellationToken cancellationToken);

    ValueTask SendEventAsync(CallEventMessage message, CancellationToken cancellationToken);

    /// <returns>Whether the stream ends with this message.</returns>
    ValueTask<bool> SendDroppedAsync(EventsDroppedMessage message, CancellationToken cancellationToken);

    ValueTask SendHeartbeatAsync(CancellationToken cancellationToken);

    /// <summary>Called whenever the connection's buffer has been emptied, so sinks may batch their writes.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>A message waiting in a connection's buffer.</summary>
internal abstract record Outbound(StreamSubscription Subscription)
{
    public sealed record Snapshot(StreamSubscription Subscription, CallSnapshotMessage Message) : Outbound(Subscription);

    /// <summary>One live event, or a replayed backlog.</summary>
    public sealed record Events(StreamSubscription Subscription, IReadOnlyList<LoggedEvent> Items) : Outbound(Subscription);

    public sealed record Dropped(StreamSubscription Subscription) : Outbound(Subscription);
}

/// <summary>
/// One subscription of a connection: a reader of the <see cref="CallEventLog"/> that copies the events its filter
/// selects into the connection's bounded buffer. The first event that does not fit ends it: from then on it only counts
/// what it misses, and a <c>EventsDropped</c> notice (carrying the cursor of the last event that did fit) follows the
/// events already buffered, so the client knows exactly where to resume.
/// </summary>
public sealed class StreamSubscription : ICallEventLogReader
{
    private const int Active = 0;
    private const int Overflowed = 1;
    private const int Closed = 2;

    private readonly CallStreamConnection _connection;
    private Outbound? _first;
    private int _state;
    private long _lastQueued;
    private long _dropped;

    internal StreamSubscription(CallStreamConnection connection, CallStreamFilter filter, long startsAfter)
    {
        _connection = connection;
        Filter = filter;
        _lastQueued = startsAfter;
        Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    }

    public string Id { get; }

    public CallStreamFilter Filter { get; }

    /// <summary>Events this subscription missed because the connection's buffer was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The position of the last event put in the buffer (or where the subscription started).</summary>
    public long LastQueued => Interlocked.Read(ref _lastQueued);

    public bool IsClosed => Volatile.Read(ref _state) == Closed;

    /// <summary>A snapshot to send before anything else (set before attaching to the log); a drop before any event is
    /// then resumed from the snapshot's <paramref name="position"/>.</summary>
    internal void StartWith(CallSnapshotMessage snapshot, long position)
    {
        _first = new Outbound.Snapshot(this, snapshot);
        Interlocked.Exchange(ref _lastQueued, position);
    }

    void ICallEventLogReader.Attached(IReadOnlyList<LoggedEvent> backlog)
    {
        if (_first is { } first) _connection.EnqueueAlways(first);
        _first = null;
        var matching = backlog.Where(Filter.Matches).ToList();
        if (matching.Count == 0) return;
        _connection.EnqueueAlways(new Outbound.Events(this, matching));
        Interlocked.Exchange(ref _lastQueued, matching[^1].Position);
    }

    void ICallEventLogReader.Offer(LoggedEvent e)
    {
        var state = Volatile.Read(ref _state);
        if (state == Closed || !Filter.Matches(e)) return;
        if (state == Active && _connection.TryEnqueue(new Outbound.Events(this, [e])))
        {
            Interlocked.Exchange(ref _lastQueued, e.Position);
            return;
        }
        Interlocked.Increment(ref _dropped);
        _connection.CountDropped();
        if (state == Active)
        {
            Volatile.Write(ref _state, Overflowed);
            // Behind every message of this subscription already buffered; not counted against the buffer.
            _connection.EnqueueAlways(new Outbound.Dropped(this));
        }
    }

    internal void Close() => Volatile.Write(ref _state, Closed);
}

/// <summary>
/// One client connection to the stream (a SignalR connection or an SSE response): its subscriptions, one bounded buffer
/// of messages, and the loop that sends them, so a slow client only ever waits for itself.
/// </summary>
public sealed class CallStreamConnection : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, StreamSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly Channel<Outbound> _buffer = Channel.CreateUnbounded<Outbound>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly CallEventLog _log;
    private readonly CallStreamMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private int _buffered;
    private int _disposed;
    private Task? _sending;

    internal CallStreamConnection(string id, string transport, string? keyName, Auth.AddressScope keyScope, int capacity, int maxSubscriptions,
        CallEventLog log, CallStreamMetrics metrics, ILogger logger, TimeProvider time)
    {
        Id = id;
        Transport = transport;
        KeyName = keyName;
        KeyScope = keyScope;
        MaxSubscriptions = maxSubscriptions;
        _capacity = capacity;
        _log = log;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        metrics.ConnectionOpened(transport);
    }

    public string Id { get; }

    /// <summary><c>signalr</c> or <c>sse</c>.</summary>
    public string Transport { get; }

    public string? KeyName { get; }

    public Auth.AddressScope KeyScope { get; }

    public int MaxSubscriptions { get; }

    /// <summary>Messages waiting to be sent.</summary>
    public int Buffered => Volatile.Read(ref _buffered);

    public bool IsFull => Buffered >= _capacity;

    public int SubscriptionCount
    {
        get { lock (_gate) return _subscriptions.Count; }
    }

    internal StreamSubscription NewSubscription(CallStreamFilter filter, long startsAfter) => new(this, filter, startsAfter);

    /// <summary>Registers a subscription that is about to attach to the log; false when the limit is reached.</summary>
    internal bool TryAdd(StreamSubscription subscription)
    {
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0 || _subscriptions.Count >= MaxSubscriptions) return false;
            _subscriptions.Add(subscription.Id, subscription);
        }
        _metrics.SubscriptionStarted(Transport);
        return true;
    }

    /// <summary>Ends a subscription: no message of it is sent any more. False when it is not (or no longer) there.</summary>
    public bool Remove(string subscriptionId)
    {
        StreamSubscription? subscription;
        lock (_gate)
        {
            if (!_subscriptions.Remove(subscriptionId, out subscription)) return false;
        }
        subscription.Close();
        _log.Detach(subscription);
        _metrics.SubscriptionEnded(Transport);
        return true;
    }

    internal bool TryEnqueue(Outbound message)
    {
        if (Interlocked.Increment(ref _buffered) > _capacity)
        {
            Interlocked.Decrement(ref _buffered);
            return false;
        }
        if (_buffer.Writer.TryWrite(message)) return true;
        Interlocked.Decrement(ref _buffered);
        return false;
    }

    /// <summary>Snapshots, backlogs and drop notices: bounded by the subscriptions, so never refused.</summary>
    internal void EnqueueAlways(Outbound message)
    {
        if (message is not Outbound.Dropped) Interlocked.Increment(ref _buffered);
        if (!_buffer.Writer.TryWrite(message) && message is not Outbound.Dropped) Interlocked.Decrement(ref _buffered);
    }

    internal void CountDropped() => _metrics.EventDropped(Transport);

    /// <summary>Starts sending in the background (SignalR); <see cref="DisposeAsync"/> stops it.</summary>
    public void Start(ICallStreamSink sink)
    {
        if (_sending is not null) throw new InvalidOperationException("The connection is already sending.");
        _sending = Task.Run(() => RunAsync(sink, CancellationToken.None));
    }

    /// <summary>Sends buffered messages until the connection is disposed, <paramref name="cancellationToken"/> fires or
    /// the sink ends the stream (SSE after a drop notice).</summary>
    public async Task RunAsync(ICallStreamSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var ct = linked.Token;
        var reader = _buffer.Reader;
        Task<bool>? more = null;
        try
        {
            while (true)
            {
                while (reader.TryRead(out var message))
                {
                    if (message is not Outbound.Dropped) Interlocked.Decrement(ref _buffered);
                    if (await SendAsync(sink, message, ct)) return;
                }
                await sink.FlushAsync(ct);
                more ??= reader.WaitToReadAsync(ct).AsTask();
                if (sink.HeartbeatInterval is { } interval && !more.IsCompleted && !await ArrivesWithinAsync(more, interval, ct))
                {
                    await sink.SendHeartbeatAsync(ct);
                    continue;
                }
                if (!await more) return;
                more = null;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> ArrivesWithinAsync(Task<bool> more, TimeSpan interval, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(interval, _time, timer.Token);
        if (await Task.WhenAny(more, delay) == more)
        {
            await timer.CancelAsync();
            return true;
        }
        ct.ThrowIfCancellationRequested();
        return false;
    }

    /// <returns>Whether the stream ends.</returns>
    private async ValueTask<bool> SendAsync(ICallStreamSink sink, Outbound message, CancellationToken ct)
    {
        var subscription = message.Subscription;
        switch (message)
        {
            case Outbound.Snapshot snapshot when !subscription.IsClosed:
                await sink.SendSnapshotAsync(snapshot.Message, ct);
                _metrics.SnapshotSent(Transport, snapshot.Message.Reset);
                return false;
            case Outbound.Events events:
                foreach (var e in events.Items)
                {
                    if (subscription.IsClosed) break;
                    await sink.SendEventAsync(new CallEventMessage(subscription.Id, e.Cursor, e.Event) { Logged = e }, ct);
                    _metrics.EventSent(Transport);
                }
                return false;
            case Outbound.Dropped:
                // Detached first, so the count is final.
                if (!Remove(subscription.Id)) return false;
                var notice = new EventsDroppedMessage(subscription.Id, subscription.Dropped, _log.CursorAt(subscription.LastQueued));
                _logger.LogWarning(
                    "Call stream {Connection} ({Transport}, key {Key}) fell behind: subscription {Subscription} ended after {Dropped} dropped events; the client resumes after {Cursor}",
                    Id, Transport, KeyName, subscription.Id, notice.Dropped, notice.Cursor);
                return await sink.SendDroppedAsync(notice, ct);
            default:
                return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        string[] ids;
        lock (_gate) ids = [.. _subscriptions.Keys];
        foreach (var id in ids) Remove(id);
        _buffer.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_sending is { } sending)
        {
            try { await sending; }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogDebug(e, "Call stream {Connection} stopped sending with an error", Id);
            }
        }
        _stopping.Dispose();
        _metrics.ConnectionClosed(Transport);
    }
}
