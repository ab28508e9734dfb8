using System.Text.Json;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.Store;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Streaming;

/// <summary>One event of the log: its position, its cursor and the call event.</summary>
public sealed class LoggedEvent(long position, string cursor, CallEvent e)
{
    private HashSet<string>? _addresses;
    private (JsonSerializerOptions Options, byte[] Json)[] _json = [];

    public long Position { get; } = position;

    public string Cursor { get; } = cursor;

    public CallEvent Event { get; } = e;

    /// <summary>The call's addresses (<c>user@domain</c>), worked out once for every subscriber that filters on them.</summary>
    public IReadOnlySet<string> Addresses => LazyInitializer.EnsureInitialized(ref _addresses, () =>
        CallAddresses.Of(Event.Call).Select(SipUri.AddressOf).OfType<string>().ToHashSet(StringComparer.Ordinal));

    /// <summary>The event as JSON, serialized once per <paramref name="options"/> however many subscriptions it goes to.</summary>
    public byte[] Utf8Json(JsonSerializerOptions options)
    {
        foreach (var (cachedOptions, json) in Volatile.Read(ref _json))
            if (ReferenceEquals(cachedOptions, options)) return json;
        var serialized = JsonSerializer.SerializeToUtf8Bytes(Event, options);
        while (true)
        {
            var current = Volatile.Read(ref _json);
            if (Interlocked.CompareExchange(ref _json, [.. current, (options, serialized)], current) == current) return serialized;
        }
    }
}

/// <summary>A reader of the log: a stream subscription. Called by the log with its fan-out lock held, so it must not block.</summary>
public interface ICallEventLogReader
{
    /// <summary>Attached: <paramref name="backlog"/> holds the logged events after the requested position that were
    /// dispatched before the reader joined; everything later comes through <see cref="Offer"/>, in order.</summary>
    void Attached(IReadOnlyList<LoggedEvent> backlog);

    /// <summary>The next event in log order.</summary>
    void Offer(LoggedEvent e);
}

/// <summary>Why <see cref="CallEventLog.Attach"/> could not replay from a position.</summary>
public enum AttachOutcome
{
    Attached,
    /// <summary>Events after the position have left the replay window: only a fresh snapshot is honest now.</summary>
    OlderThanWindow,
    /// <summary>The position is after the last event: not a cursor this log handed out.</summary>
    AheadOfLog,
}

/// <summary>
/// The gateway-wide, ordered log of call events that the SignalR hub and the SSE endpoint serve: a consumer of the
/// <see cref="CallEventPublisher"/>, so it sees every committed event in log order.
/// <list type="bullet">
/// <item>Positions are the store's log positions; with the store's <see cref="Epoch"/> they form the cursor
/// <c>{epoch}-{position}</c>. A durable store keeps both across restarts, so a client's cursor stays valid: at start the
/// latest <see cref="StreamingOptions.ReplayWindow"/> events are read back from the store.</item>
/// <item>A reader may attach at any position up to the publisher's head, also one the log has not received yet (a
/// snapshot is taken under the tracker's gate, as of the head): it then gets exactly the events after it.</item>
/// <item>Offering an event only copies it into each reader's bounded buffer (or counts it as dropped there), so
/// neither a slow client nor many clients hold up the publisher.</item>
/// </list>
/// </summary>
public sealed class CallEventLog : ICallEventConsumer
{
    private readonly Lock _gate = new();
    private readonly LoggedEvent?[] _window;
    private readonly List<(ICallEventLogReader Reader, long After)> _readers = [];
    private readonly PublishedHead _published;
    private readonly CallStreamMetrics _metrics;
    private readonly ILogger<CallEventLog> _logger;
    private long _last;
    private long _oldest = 1;

    public CallEventLog(IOptions<StreamingOptions> options, PublishedHead published, CallStreamMetrics metrics, ILogger<CallEventLog> logger)
    {
        _window = new LoggedEvent?[options.Value.ReplayWindow];
        _published = published;
        _metrics = metrics;
        _logger = logger;
    }

    public string Name => "stream-log";

    /// <summary>Names the store's log; a cursor of another epoch cannot be replayed.</summary>
    public string Epoch => _published.Epoch;

    /// <summary>The cursor of the last published event (<c>{epoch}-0</c> before the first).</summary>
    public StreamCursor Head => new(Epoch, _published.Position);

    /// <summary>The oldest position still replayable.</summary>
    public long OldestRetained
    {
        get { lock (_gate) return OldestRetainedLocked(); }
    }

    public string CursorAt(long position) => new StreamCursor(Epoch, position).ToString();

    /// <summary>Reads back the latest events of a durable store, so cursors handed out before a restart still resume.</summary>
    public async ValueTask StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        var from = Math.Max(0, head.Position - _window.Length);
        var oldest = Math.Max(from + 1, await store.OldestLogPositionAsync(cancellationToken));
        var events = await store.ReadLogAsync(from, _window.Length, cancellationToken);
        lock (_gate)
        {
            foreach (var e in events) _window[e.Position % _window.Length] = new LoggedEvent(e.Position, new StreamCursor(head.Epoch, e.Position).ToString(), e.Event);
            _last = head.Position;
            // Positions the store no longer has (purged calls, or never in a new log) cannot be replayed.
            _oldest = events.Count > 0 ? Math.Max(oldest, events[0].Position) : head.Position + 1;
        }
    }

    public ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var stored in batch)
            {
                var e = new LoggedEvent(stored.Position, CursorAt(stored.Position), stored.Event);
                _window[e.Position % _window.Length] = e;
                _last = e.Position;
                foreach (var (reader, after) in _readers)
                {
                    if (e.Position <= after) continue; // the reader's snapshot or backlog already covers it
                    try
                    {
                        reader.Offer(e);
                    }
                    catch (Exception ex)
                    {
                        // One faulty reader must not stop the stream of every other client.
                        _logger.LogError(ex, "A call stream reader failed on event {Cursor}", e.Cursor);
                    }
                }
                _metrics.EventAppended();
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Starts offering <paramref name="reader"/> the events after <paramref name="after"/>. Before it returns (and before
    /// any offer) it calls <see cref="ICallEventLogReader.Attached"/> with the part of that range the log already has.
    /// </summary>
    public AttachOutcome Attach(ICallEventLogReader reader, long after)
    {
        ArgumentNullException.ThrowIfNull(reader);
        lock (_gate)
        {
            if (after < 0 || after > _published.Position) return AttachOutcome.AheadOfLog;
            if (after < _last && after + 1 < OldestRetainedLocked()) return AttachOutcome.OlderThanWindow;
            var backlog = new List<LoggedEvent>((int)Math.Max(0, _last - after));
            for (var position = after + 1; position <= _last; position++)
            {
                // Positions of purged calls left gaps in a read-back window.
                if (_window[position % _window.Length] is { } e && e.Position == position) backlog.Add(e);
            }
            reader.Attached(backlog);
            _readers.Add((reader, after));
            return AttachOutcome.Attached;
        }
    }

    public void Detach(ICallEventLogReader reader)
    {
        lock (_gate)
        {
            var index = _readers.FindIndex(r => ReferenceEquals(r.Reader, reader));
            if (index >= 0) _readers.RemoveAt(index);
        }
    }

    /// <summary>Readers attached now.</summary>
    public int ReaderCount
    {
        get { lock (_gate) return _readers.Count; }
    }

    private long OldestRetainedLocked() => Math.Max(_oldest, _last - _window.Length + 1);
}
