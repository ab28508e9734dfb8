using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Api.Calls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Streaming;

/// <summary>One event of the log: its position, its cursor and the registry's event.</summary>
public sealed class LoggedEvent(long position, string cursor, CallEvent e)
{
    private HashSet<string>? _addresses;
    private (JsonSerializerOptions Options, byte[] Json)[] _json = [];

    public long Position { get; } = position;

    public string Cursor { get; } = cursor;

    public CallEvent Event { get; } = e;

    /// <summary>The call's addresses (<c>user@domain</c>), worked out once for every subscriber that filters on them.</summary>
    public IReadOnlySet<string> Addresses => LazyInitializer.EnsureInitialized(ref _addresses, () =>
        CallRegistry.AddressesOf(Event.Call).Select(SipUri.AddressOf).OfType<string>().ToHashSet(StringComparer.Ordinal));

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
/// The gateway-wide, ordered log of call events that the SignalR hub and the SSE endpoint serve.
/// <list type="bullet">
/// <item>The <see cref="CallRegistry"/> appends every event it publishes while holding its own lock
/// (<see cref="ICallEventSink"/>), so the log has every event, in the registry's order, and a snapshot read under that
/// lock is exactly as of <see cref="Head"/>.</item>
/// <item>Positions count from 1 without gaps; with the process's random <see cref="Epoch"/> they form the cursor
/// <c>{epoch}-{position}</c>. The latest <see cref="StreamingOptions.ReplayWindow"/> events are kept for replay.</item>
/// <item>Appending only stores the event and hands it to one dispatcher task through an unbounded (lossless) queue; the
/// dispatcher offers it to every reader, which copies it into its connection's bounded buffer or counts it as dropped.
/// So neither a slow client nor many clients ever hold up the registry.</item>
/// </list>
/// Lock order: the registry's lock, then the fan-out lock, then the append lock; the dispatcher takes only the fan-out lock.
/// </summary>
public sealed class CallEventLog : ICallEventSink, IAsyncDisposable
{
    private readonly Lock _appendGate = new();
    private readonly Lock _fanOutGate = new();
    private readonly LoggedEvent?[] _window;
    private readonly Channel<LoggedEvent> _undispatched = Channel.CreateUnbounded<LoggedEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });
    private readonly List<(ICallEventLogReader Reader, long After)> _readers = [];
    private readonly CallStreamMetrics _metrics;
    private readonly ILogger<CallEventLog> _logger;
    private readonly Task _dispatcher;
    private long _last;
    private long _dispatched;

    public CallEventLog(IOptions<StreamingOptions> options, CallStreamMetrics metrics, ILogger<CallEventLog> logger)
    {
        _window = new LoggedEvent?[options.Value.ReplayWindow];
        _metrics = metrics;
        _logger = logger;
        // Lower-case hex, so a cursor is "{10 hex}-{digits}" and survives any URL or header unescaped.
        Epoch = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        _dispatcher = Task.Run(DispatchAsync);
    }

    /// <summary>Names this process's log; a cursor of another epoch cannot be replayed.</summary>
    public string Epoch { get; }

    /// <summary>The cursor of the last appended event (<c>{epoch}-0</c> before the first).</summary>
    public StreamCursor Head
    {
        get { lock (_appendGate) return new StreamCursor(Epoch, _last); }
    }

    /// <summary>The oldest position still replayable.</summary>
    public long OldestRetained
    {
        get { lock (_appendGate) return OldestRetainedLocked(); }
    }

    public string CursorAt(long position) => new StreamCursor(Epoch, position).ToString();

    /// <inheritdoc />
    public void Append(CallEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        lock (_appendGate)
        {
            var position = ++_last;
            var logged = new LoggedEvent(position, CursorAt(position), e);
            _window[position % _window.Length] = logged;
            _undispatched.Writer.TryWrite(logged);
        }
        _metrics.EventAppended();
    }

    /// <summary>
    /// Starts offering <paramref name="reader"/> the events after <paramref name="after"/>. Before it returns (and before
    /// any offer) it calls <see cref="ICallEventLogReader.Attached"/> with the already dispatched part of that range.
    /// </summary>
    public AttachOutcome Attach(ICallEventLogReader reader, long after)
    {
        ArgumentNullException.ThrowIfNull(reader);
        lock (_fanOutGate)
        {
            List<LoggedEvent> backlog;
            lock (_appendGate)
            {
                if (after < 0 || after > _last) return AttachOutcome.AheadOfLog;
                if (after + 1 < OldestRetainedLocked()) return AttachOutcome.OlderThanWindow;
                // Everything in (after, _last] is in the window; the dispatcher will offer (_dispatched, _last].
                backlog = new List<LoggedEvent>((int)Math.Max(0, _dispatched - after));
                for (var position = after + 1; position <= _dispatched; position++) backlog.Add(_window[position % _window.Length]!);
            }
            reader.Attached(backlog);
            _readers.Add((reader, after));
            return AttachOutcome.Attached;
        }
    }

    public void Detach(ICallEventLogReader reader)
    {
        lock (_fanOutGate)
        {
            var index = _readers.FindIndex(r => ReferenceEquals(r.Reader, reader));
            if (index >= 0) _readers.RemoveAt(index);
        }
    }

    /// <summary>Readers attached now.</summary>
    public int ReaderCount
    {
        get { lock (_fanOutGate) return _readers.Count; }
    }

    private long OldestRetainedLocked() => Math.Max(1, _last - _window.Length + 1);

    private async Task DispatchAsync()
    {
        var queue = _undispatched.Reader;
        while (await queue.WaitToReadAsync())
        {
            lock (_fanOutGate)
            {
                // A bounded batch per turn, so a burst never keeps attaching and detaching readers waiting long.
                for (var batch = 0; batch < 64 && queue.TryRead(out var e); batch++)
                {
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
                    _dispatched = e.Position;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _undispatched.Writer.TryComplete();
        await _dispatcher;
    }
}
