using System.Text.Json.Nodes;

namespace Gateway.Soak.Streams;

/// <summary>
/// What one stream client (SSE or SignalR) received over the whole run, across its reconnects: every call event once
/// in arrival order, the events that came twice, the calls whose events came out of sequence order, reset snapshots
/// and dropped notices. A client that resumes correctly shows no duplicates, no disorder and no resets.
/// </summary>
public sealed class StreamLedger(string name)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<long>> _sequences = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly List<string> _duplicates = [];
    private readonly HashSet<string> _disordered = new(StringComparer.Ordinal);
    private string? _cursor;

    public string Name { get; } = name;

    /// <summary>The cursor to resume after: the last message's.</summary>
    public string? Cursor
    {
        get { lock (_gate) return _cursor; }
    }

    public int Connects { get; private set; }

    public int ResetSnapshots { get; private set; }

    public int DroppedNotices { get; private set; }

    public int Events { get; private set; }

    public IReadOnlyList<string> Duplicates
    {
        get { lock (_gate) return [.. _duplicates]; }
    }

    public IReadOnlyCollection<string> DisorderedCalls
    {
        get { lock (_gate) return [.. _disordered]; }
    }

    public void Connected()
    {
        lock (_gate) Connects++;
    }

    public void Snapshot(JsonObject message)
    {
        lock (_gate)
        {
            if ((bool?)message["reset"] == true) ResetSnapshots++;
            _cursor = (string?)message["cursor"] ?? _cursor;
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
