using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Metrics;

/// <summary><see cref="CallMetrics"/> reading the call event log: calls counted by state as their events arrive, seeded
/// from the store's live calls, and every event counted by type.</summary>
public sealed class CallMetricsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly System.Diagnostics.Metrics.IMeterFactory _meters = TestMeters.NewFactory();

    private static TrackedCall Call(string id, CallState state, bool visible = true) =>
        new() { Id = id, CreatedAt = T0, UpdatedAt = T0, State = state, Visible = visible };

    private static StoredCallEvent Event(long position, string callId, string type, CallState state) => new(position, new CallEvent
    {
        Id = $"{callId}.{position}",
        Type = type,
        Sequence = position,
        OccurredAt = T0,
        Call = new CallResource { Id = callId, State = state, CreatedAt = T0, UpdatedAt = T0, Legs = [] },
    });

    private async Task<(CallMetrics Metrics, MetricCollector<long> Active)> StartAsync(params TrackedCall[] live)
    {
        var store = new InMemoryCallStore(Options.Create(new CallsOptions { Store = CallStoreKind.Memory }), NullLogger<InMemoryCallStore>.Instance);
        var head = await store.OpenAsync(Ct);
        if (live.Length > 0) await store.CommitAsync(new CallCommit { Calls = live }, Ct);
        var active = new MetricCollector<long>(_meters, CallMetrics.MeterName, "gateway.calls.active");
        var metrics = new CallMetrics(_meters);
        await metrics.StartAsync(head, store, Ct);
        return (metrics, active);
    }

    private static Dictionary<string, long> Counts(MetricCollector<long> active)
    {
        active.Clear();
        active.RecordObservableInstruments();
        return active.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["state"]!, m => m.Value);
    }

    [Fact]
    public async Task ACallMovesFromStateToStateAndLeavesTheCountsWhenItEnds()
    {
        var (metrics, active) = await StartAsync();
        using var _ = active;

        await metrics.HandleAsync([Event(1, "a", "call.requested", CallState.Requested), Event(2, "b", "call.callee-ringing", CallState.CalleeRinging)], Ct);
        Assert.Equal(new Dictionary<string, long>
        {
            ["requested"] = 1, ["caller-ringing"] = 0, ["caller-answered"] = 0, ["callee-ringing"] = 1, ["connected"] = 0,
        }, Counts(active));

        await metrics.HandleAsync([Event(3, "a", "call.connected", CallState.Connected), Event(4, "b", "call.ended", CallState.Ended)], Ct);
        var counts = Counts(active);
        Assert.Equal(1, counts["connected"]);
        Assert.Equal(1, counts.Values.Sum());

        await metrics.HandleAsync([Event(5, "a", "call.ended", CallState.Ended)], Ct);
        Assert.All(Counts(active).Values, v => Assert.Equal(0, v));
    }

    [Fact]
    public async Task TheLiveCallsOfTheStoreAreCountedFromTheStartButHeldOnesAreNot()
    {
        var (metrics, active) = await StartAsync(Call("a", CallState.Connected), Call("b", CallState.CallerRinging), Call("held", CallState.Requested, visible: false));
        using var _ = active;

        var counts = Counts(active);
        Assert.Equal(1, counts["connected"]);
        Assert.Equal(1, counts["caller-ringing"]);
        Assert.Equal(0, counts["requested"]);

        await metrics.HandleAsync([Event(10, "a", "call.ended", CallState.Ended)], Ct);
        Assert.Equal(0, Counts(active)["connected"]);
    }

    [Fact]
    public async Task EveryEventIsCountedByType()
    {
        var (metrics, active) = await StartAsync();
        using var _ = active;
        using var events = new MetricCollector<long>(_meters, CallMetrics.MeterName, "gateway.call.events");

        await metrics.HandleAsync([Event(1, "a", "call.requested", CallState.Requested), Event(2, "a", "call.updated", CallState.Requested),
            Event(3, "a", "call.updated", CallState.Requested)], Ct);

        Assert.Equal(["call.requested", "call.updated", "call.updated"], events.GetMeasurementSnapshot().Select(m => (string?)m.Tags["type"]));
    }
}
