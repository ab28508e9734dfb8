using System.Text.Json.Nodes;

namespace Gateway.Soak.Streams;

/// <summary>
/// What one stream client (SSE or SignalR) received over the whole run, across its reconnects: every call event once
/// in arrival order, the events that came twice, the calls whose events came out of sequence order, reset snapshots
/// and dropped notices. A client that resumes correctly shows no duplicates, no disorder and no resets. The client sees
/// every call (scope <c>all</c>, a key for every address), so the log positions of its cursors follow each other without
/// a hole, within a subscription and from a resume's cursor to its first event: a hole is an event the gateway lost.
/// </summary>
public sealed class StreamLedger(string name)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<long>> _sequences = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly List<string> _duplicates = [];
    private readonly HashSet<string> _disordered = new(StringComparer.Ordinal);
    private string? _cursor;
    private readonly Dictionary<string, long> _lastPosition = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _firstPosition = new(StringComparer.Ordinal);
    private readonly List<string> _holes = [];
    private readonly List<(string Id, string? After)> _subscriptions = [];
    private readonly TaskCompletionSource _firstSubscription = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name { get; } = name;

    /// <summary>The cursor to resume after: the last message's.</summary>
    public string? Cursor
    {
        get { lock (_gate) return _cursor; }
    }

    public int Connects { get; private set; }

    /// <summary>Completes when the first subscription is in place: events committed before it are in its snapshot, not
    /// in this ledger, so the load must not start before it.</summary>
    public Task FirstSubscription => _firstSubscription.Task;

    public int ResetSnapshots { get; private set; }

    public int DroppedNotices { get; private set; }

    public int Events { get; private set; }

    public IReadOnlyList<string> Duplicates
    {
        get { lock (_gate) return [.. _duplicates]; }
    }

    /// <summary>Where the log positions skipped (events the gateway did not send), as "subscription: after → got".</summary>
    public IReadOnlyList<string> Holes
    {
        get { lock (_gate) return [.. _holes]; }
    }

    /// <summary>Each subscription as "id after cursor: first..last position received".</summary>
    public IReadOnlyList<string> Subscriptions
    {
        get
        {
            lock (_gate)
                return [.. _subscriptions.Select(s => $"{s.Id} after {s.After ?? "snapshot"}: " +
                                                       $"{_firstPosition.GetValueOrDefault(s.Id)}..{_lastPosition.GetValueOrDefault(s.Id)}")];
        }
    }

    public IReadOnlyCollection<string> DisorderedCalls
    {
        get { lock (_gate) return [.. _disordered]; }
    }

    /// <summary>A subscription started after <paramref name="afterCursor"/> (null: from a snapshot). Its first events may
    /// have come before this (SignalR sends them before the subscribe call's result).</summary>
    public void Subscribed(string subscriptionId, string? afterCursor)
    {
        lock (_gate)
        {
            Connects++;
            _subscriptions.Add((subscriptionId, afterCursor));
            _firstSubscription.TrySetResult();
            if (Position(afterCursor) is not { } after) return;
            if (_firstPosition.TryGetValue(subscriptionId, out var first))
            {
                if (first != after + 1) _holes.Add($"{subscriptionId}: resumed after {after}, first event {first}");
            }
            else _lastPosition[subscriptionId] = after;
        }
    }

    public void Snapshot(JsonObject message)
    {
        lock (_gate)
        {
            if ((bool?)message["reset"] == true) ResetSnapshots++;
            _cursor = (string?)message["cursor"] ?? _cursor;
            if ((string?)message["subscriptionId"] is { } subscription && Position(_cursor) is { } position) _lastPosition[subscription] = position;
        }
    }

    public void Dropped(JsonObject message)
    {
        lock (_gate)
        {
            DroppedNotices++;
            _cursor = (string?)message["cursor"] ?? _cursor;
        }
    }

    public void Event(JsonObject message)
    {
        var id = (string)message["event"]!["id"]!;
        var callId = (string)message["event"]!["call"]!["id"]!;
        var sequence = (long)message["event"]!["sequence"]!;
        lock (_gate)
        {
            _cursor = (string?)message["cursor"] ?? _cursor;
            Events++;
            if ((string?)message["subscriptionId"] is { } subscription && Position(_cursor) is { } position)
            {
                if (_lastPosition.TryGetValue(subscription, out var last) && position != last + 1) _holes.Add($"{subscription}: {last} → {position}");
                _lastPosition[subscription] = position;
                _firstPosition.TryAdd(subscription, position);
            }
            if (!_types.TryAdd(id, (string)message["event"]!["type"]!))
            {
                _duplicates.Add(id);
                return;
            }
            if (!_sequences.TryGetValue(callId, out var sequences)) _sequences[callId] = sequences = [];
            if (sequences.Count > 0 && sequences[^1] >= sequence) _disordered.Add(callId);
            sequences.Add(sequence);
        }
    }

    /// <summary>The log position of a cursor (<c>{epoch}-{position}</c>).</summary>
    private static long? Position(string? cursor) =>
        cursor is not null && cursor.LastIndexOf('-') is var dash and >= 0 &&
        long.TryParse(cursor.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var position)
            ? position
            : null;

    /// <summary>The sequence numbers received for the call, in arrival order.</summary>
    public IReadOnlyList<long> SequencesOf(string callId)
    {
        lock (_gate) return _sequences.TryGetValue(callId, out var sequences) ? [.. sequences] : [];
    }

    /// <summary>Whether the stream delivered the call's event with this sequence number.</summary>
    public bool Has(string callId, long sequence)
    {
        lock (_gate) return _types.ContainsKey($"{callId}.{sequence}");
    }
}
