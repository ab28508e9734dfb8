using Gateway.Xmpp.Client;

namespace Gateway.Xmpp.Benchmarks;

/// <summary>One client under test. Every target sends the same ping IQ to the same server and waits for its result.</summary>
public interface IBenchTarget : IAsyncDisposable
{
    /// <summary>Short name used in the tables (raw, lib, pool, …).</summary>
    string Name { get; }

    /// <summary>What the target is, for the report.</summary>
    string Description { get; }

    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>XEP-0198 acks exchanged so far (summed over connections); null when the target does not speak XEP-0198.</summary>
    StreamManagementStatistics? Acks { get; }

    /// <summary>Performs <paramref name="count"/> ping round trips with at most <paramref name="concurrency"/> outstanding at
    /// any time, recording round trip i's latency in slot i of <paramref name="latencies"/>.</summary>
    Task RunAsync(int count, int concurrency, LatencyRecorder latencies, CancellationToken cancellationToken);
}
