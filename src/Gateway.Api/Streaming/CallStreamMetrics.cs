using System.Diagnostics.Metrics;

namespace Gateway.Api.Streaming;

/// <summary>
/// The <c>Gateway.Streaming</c> meter: what any OpenTelemetry or <c>dotnet-counters</c> listener sees of the call
/// stream. <c>transport</c> is <c>signalr</c> or <c>sse</c>.
/// </summary>
public sealed class CallStreamMetrics
{
    public const string MeterName = "Gateway.Streaming";

    private readonly Counter<long> _appended;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _snapshots;
    private readonly UpDownCounter<long> _connections;
    private readonly UpDownCounter<long> _subscriptions;

    public CallStreamMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _appended = meter.CreateCounter<long>("gateway.stream.events.appended", "{event}", "Call events published into the stream log.");
        _sent = meter.CreateCounter<long>("gateway.stream.events.sent", "{event}", "Call event messages sent to stream clients.");
        _dropped = meter.CreateCounter<long>("gateway.stream.events.dropped", "{event}",
            "Call events not sent because a client's buffer was full (the client was told with EventsDropped).");
        _snapshots = meter.CreateCounter<long>("gateway.stream.snapshots", "{snapshot}", "Snapshots sent; reset=true when a resume could not be replayed.");
        _connections = meter.CreateUpDownCounter<long>("gateway.stream.connections", "{connection}", "Open stream connections.");
        _subscriptions = meter.CreateUpDownCounter<long>("gateway.stream.subscriptions", "{subscription}", "Active stream subscriptions.");
    }

    public void EventAppended() => _appended.Add(1);

    public void EventSent(string transport) => _sent.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void EventDropped(string transport) => _dropped.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void SnapshotSent(string transport, bool reset) =>
        _snapshots.Add(1, new KeyValuePair<string, object?>("transport", transport), new KeyValuePair<string, object?>("reset", reset));

    public void ConnectionOpened(string transport) => _connections.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void ConnectionClosed(string transport) => _connections.Add(-1, new KeyValuePair<string, object?>("transport", transport));

    public void SubscriptionStarted(string transport) => _subscriptions.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void SubscriptionEnded(string transport) => _subscriptions.Add(-1, new KeyValuePair<string, object?>("transport", transport));
}
