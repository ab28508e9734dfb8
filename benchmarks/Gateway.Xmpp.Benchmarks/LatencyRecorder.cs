using System.Diagnostics;

namespace Gateway.Xmpp.Benchmarks;

/// <summary>Every round trip's latency, in <see cref="Stopwatch"/> ticks, in a preallocated array: slot i belongs to round
/// trip i, so concurrent workers write without locks and nothing is allocated while measuring.</summary>
public sealed class LatencyRecorder(int capacity)
{
    private readonly long[] _ticks = new long[capacity];

    public int Capacity => _ticks.Length;

    /// <summary>Where the next run's round trip 0 goes: a run in slices fills one recorder slice after slice.</summary>
    public int Offset { get; set; }

    public void Record(int index, long ticks) => _ticks[Offset + index] = ticks;

    /// <summary>Nearest-rank percentiles (and the maximum) of the first <paramref name="count"/> slots, in milliseconds.</summary>
    public LatencySummary Summarize(int count)
    {
        var sorted = _ticks.AsSpan(0, count).ToArray();
        Array.Sort(sorted);
        if (sorted.Length == 0) return new LatencySummary(0, 0, 0);
        if (sorted[0] <= 0) throw new InvalidOperationException("A round trip recorded no latency: the run lost a reply.");
        return new LatencySummary(Ms(Percentile(sorted, 0.50)), Ms(Percentile(sorted, 0.99)), Ms(sorted[^1]));
    }

    public void Clear()
    {
        Array.Clear(_ticks);
        Offset = 0;
    }

    private static long Percentile(long[] sorted, double p) => sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

public readonly record struct LatencySummary(double P50Ms, double P99Ms, double MaxMs);
