using System.Diagnostics.Metrics;
using System.Text.Json;
using Gateway.Api.Calls.Store;

namespace Gateway.Api.Calls.Events;

/// <summary>
/// The <c>Gateway.Calls</c> meter, kept by reading the call event log like any other consumer: <c>gateway.call.events</c>
/// counts the events by <c>type</c> (their rate is the gateway's events per second), and <c>gateway.calls.active</c> is
/// the number of visible calls in each <c>state</c> but ended. The counts change with each event, so a scrape reads six
/// numbers, never the calls. Seeded at start from the store's live calls; with replicas on a shared store every replica
/// reads every replica's events, so each reports the whole system's calls.
/// </summary>
public sealed class CallMetrics : ICallEventConsumer
{
    public const string MeterName = "Gateway.Calls";

    private static readonly CallState[] LiveStates = [.. Enum.GetValues<CallState>().Where(s => s != CallState.Ended)];
    private static readonly string[] StateNames = [.. Enum.GetValues<CallState>().Select(s => JsonNamingPolicy.KebabCaseLower.ConvertName(s.ToString()))];

    private readonly Counter<long> _events;
    private readonly long[] _active = new long[StateNames.Length];
    // The state of each live call, so an event moves its call from one count to another (only the pump writes it).
    private readonly Dictionary<string, CallState> _states = new(StringComparer.Ordinal);
    private long _seededAt = -1;

    public CallMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _events = meter.CreateCounter<long>("gateway.call.events", "{event}", "Call events published (SignalR, SSE, webhooks), by type.");
        meter.CreateObservableGauge("gateway.calls.active", ObserveActive, "{call}", "Calls not ended, by state.");
    }

    public string Name => "metrics";

    public async ValueTask StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        // Once, at start: the live calls as of a log position; the events up to it are already counted in them.
        var (live, position) = store is ISharedCallStore shared
            ? await shared.SnapshotAsync(cancellationToken)
            : (await store.LiveAsync(cancellationToken), head.Position);
        _seededAt = position;
        foreach (var call in live.Where(c => c.Visible && !c.IsEnded)) Move(call.Id, call.State);
    }

    public ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        foreach (var (position, e) in batch)
        {
            _events.Add(1, new KeyValuePair<string, object?>("type", e.Type));
            if (position > _seededAt) Move(e.Call.Id, e.Call.State);
        }
        return ValueTask.CompletedTask;
    }

    private void Move(string callId, CallState state)
    {
        if (_states.Remove(callId, out var previous)) Interlocked.Decrement(ref _active[(int)previous]);
        if (state == CallState.Ended) return;
        _states[callId] = state;
        Interlocked.Increment(ref _active[(int)state]);
    }

    private IEnumerable<Measurement<long>> ObserveActive() =>
        LiveStates.Select(s => new Measurement<long>(Interlocked.Read(ref _active[(int)s]), new KeyValuePair<string, object?>("state", StateNames[(int)s])));
}
