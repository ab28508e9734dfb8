using System.Diagnostics;

namespace Gateway.Calls.Benchmarks;

/// <summary>The mean, median and 99th percentile (nearest rank) of some timed operations, in microseconds.</summary>
internal readonly record struct Timing(double MeanUs, double P50Us, double P99Us)
{
    /// <summary>Summarises <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks, one per operation).</summary>
    public static Timing Of(ReadOnlySpan<long> ticks)
    {
        if (ticks.IsEmpty) return new Timing(double.NaN, double.NaN, double.NaN);
        var sorted = ticks.ToArray();
        Array.Sort(sorted);
        double total = 0;
        foreach (var t in sorted) total += t;
        return new Timing(Us(total / sorted.Length), Us(Rank(sorted, 0.50)), Us(Rank(sorted, 0.99)));
    }

    private static long Rank(long[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Us(double ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
