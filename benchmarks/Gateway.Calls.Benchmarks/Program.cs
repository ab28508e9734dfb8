using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Api.Calls.Store;
using Gateway.Benchmarks.Shared;

namespace Gateway.Calls.Benchmarks;

/// <summary>
/// N live calls (100,000 by default) in one process, through the real <c>CallTracker</c>: insert cost at the start and
/// at the end of the fill (constant time?), managed memory per call, the cost of one event on an existing call with N
/// calls present against the same with 1,000, lookups by id and by SIP Call-ID, and (in-memory store) inserts that evict.
/// Markdown on stdout, progress on stderr. See docs/benchmarks.md.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var o = CallsBenchOptions.Parse(args);
        if (o is null) return 2;
        var loadAtStart = BenchmarkStack.LoadAverage();
        var startedAt = DateTimeOffset.UtcNow;
        Console.Error.WriteLine($"load average at start: {loadAtStart}");
        var results = new Dictionary<StoreKind, List<RoundResult>>();
        foreach (var kind in o.Stores)
        {
            Console.Error.WriteLine($"{kind}: warm-up ({o.WarmupCalls:N0} calls)");
            await new CallsBench(kind, o with { Calls = o.WarmupCalls, Events = o.WarmupCalls / 4, Lookups = o.WarmupCalls / 4, Evict = o.WarmupCalls / 4 }, "warm")
                .RunRoundAsync(0);
            var rounds = results[kind] = [];
            for (var round = 1; round <= o.Rounds; round++)
            {
                Console.Error.WriteLine($"{kind}: round {round} of {o.Rounds}, load average {BenchmarkStack.LoadAverage()}");
                var result = await new CallsBench(kind, o, $"r{round}").RunRoundAsync(round);
                Console.Error.WriteLine(result.Summary());
                rounds.Add(result);
            }
        }
        var loadAtEnd = BenchmarkStack.LoadAverage();
        Console.Error.WriteLine($"load average at end: {loadAtEnd}");
        Console.WriteLine(Report.Markdown(o, results, startedAt, loadAtStart, loadAtEnd));
        return 0;
    }
}

internal sealed record CallsBenchOptions
{
    public int Calls { get; init; } = 100_000;
    public int SmallCalls { get; init; } = 1_000;
    public int Rounds { get; init; } = 3;
    public int Events { get; init; } = 20_000;
    public int Lookups { get; init; } = 20_000;
    public int Evict { get; init; } = 20_000;
    public int WarmupCalls { get; init; } = 20_000;
    public IReadOnlyList<StoreKind> Stores { get; init; } = [StoreKind.Memory, StoreKind.Sqlite];

    /// <summary>The first and last this many inserts of the fill are compared.</summary>
    public int Window => Math.Max(1, Math.Min(10_000, Calls / 10));

    public static CallsBenchOptions? Parse(string[] args)
    {
        var o = new CallsBenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            int Number() => int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--calls": o = o with { Calls = Number() }; break;
                case "--small": o = o with { SmallCalls = Number() }; break;
                case "--rounds": o = o with { Rounds = Number() }; break;
                case "--events": o = o with { Events = Number() }; break;
                case "--lookups": o = o with { Lookups = Number() }; break;
                case "--evict": o = o with { Evict = Number() }; break;
                case "--warmup": o = o with { WarmupCalls = Number() }; break;
                case "--store":
                    o = o with
                    {
                        Stores = Next() switch
                        {
                            "memory" => [StoreKind.Memory],
                            "sqlite" => [StoreKind.Sqlite],
                            "both" => [StoreKind.Memory, StoreKind.Sqlite],
                            var other => throw new ArgumentException("--store is memory, sqlite or both, not " + other),
                        },
                    };
                    break;
                default:
                    Console.Error.WriteLine("usage: Gateway.Calls.Benchmarks [--calls 100000] [--rounds 3] [--store memory|sqlite|both] " +
                                            "[--events 20000] [--lookups 20000] [--evict 20000] [--small 1000] [--warmup 20000]");
                    return null;
            }
        }
        if (o.Calls < 10 || o.SmallCalls < 1 || o.Rounds < 1 || o.Events < 1 || o.Lookups < 1 || o.Evict < 0)
        {
            Console.Error.WriteLine("--calls must be at least 10, the other counts at least 1 (--evict at least 0)");
            return null;
        }
        return o;
    }
}

/// <summary>What one round measured on one store.</summary>
internal sealed record RoundResult(int Round, StoreKind Kind, int Calls)
{
    public double InsertsPerSecond { get; init; }
    public Timing FirstInserts { get; init; }
    public Timing LastInserts { get; init; }
    public int Gen2DuringFill { get; init; }
    public double ManagedBytesPerCall { get; init; }
    public double FileBytesPerCall { get; init; }
    public Timing EventAtN { get; init; }
    public Timing EventAtSmall { get; init; }
    public Timing FindByIdAtN { get; init; }
    public Timing FindBySipCallIdAtN { get; init; }
    public Timing FindByIdAtSmall { get; init; }
    public Timing FindBySipCallIdAtSmall { get; init; }
    public Timing EvictingInserts { get; init; }
    public Timing SnapshotAtN { get; init; }
    public Timing SnapshotAtSmall { get; init; }
    public int CallsAfterEviction { get; init; }

    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"  {InsertsPerSecond:N0} inserts/s; insert mean first {FirstInserts.MeanUs:F1} µs, last {LastInserts.MeanUs:F1} µs; " +
        $"{ManagedBytesPerCall:N0} B/call managed; event mean {EventAtN.MeanUs:F1} µs at {Calls:N0}, {EventAtSmall.MeanUs:F1} µs small; " +
        $"evicting insert mean {EvictingInserts.MeanUs:F1} µs");
}

/// <summary>One round on one store: a tracker filled with N calls, then one with the small count.</summary>
internal sealed class CallsBench(StoreKind kind, CallsBenchOptions o, string prefix)
{
    public async Task<RoundResult> RunRoundAsync(int round)
    {
        var result = new RoundResult(round, kind, o.Calls);
        await using (var large = await TrackedCalls.StartAsync(kind, o.Calls, prefix + "L"))
        {
            result = await FillAsync(large, result);
            var (eventAtN, findById, findBySip) = await EventsAndLookupsAsync(large, o.Calls, new Random(round));
            result = result with { EventAtN = eventAtN, FindByIdAtN = findById, FindBySipCallIdAtN = findBySip, SnapshotAtN = await SnapshotsAsync(large, o.Calls) };
            if (kind == StoreKind.Memory && o.Evict > 0) result = await EvictAsync(large, result);
        }
        await using (var small = await TrackedCalls.StartAsync(kind, Math.Max(o.Calls, o.SmallCalls), prefix + "S"))
        {
            for (var i = 0; i < o.SmallCalls; i++) await small.InsertAsync(i);
            await small.Events.WaitForAsync(o.SmallCalls);
            var (eventAtSmall, findById, findBySip) = await EventsAndLookupsAsync(small, o.SmallCalls, new Random(round));
            result = result with
            {
                EventAtSmall = eventAtSmall, FindByIdAtSmall = findById, FindBySipCallIdAtSmall = findBySip, SnapshotAtSmall = await SnapshotsAsync(small, o.SmallCalls),
            };
        }
        return result;
    }

    /// <summary>Inserts N calls one by one (each a new SIP Call-ID: one <c>call.callee-ringing</c>), timing each, and
    /// the managed heap before and after (full blocking GCs), once every event has reached the consumer.</summary>
    private async Task<RoundResult> FillAsync(TrackedCalls calls, RoundResult result)
    {
        var ticks = new long[o.Calls];
        Collect();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var gen2Before = GC.CollectionCount(2);
        var wall = Stopwatch.StartNew();
        await PublishTimedAsync(calls, ticks, i => i, answered: false);
        wall.Stop();
        var gen2 = GC.CollectionCount(2) - gen2Before;
        await calls.Events.WaitForAsync(o.Calls);
        if (kind == StoreKind.Memory && ((InMemoryCallStore)calls.Store).Count != o.Calls)
            throw new InvalidOperationException($"the store holds {((InMemoryCallStore)calls.Store).Count} calls, {o.Calls} inserted");
        Collect();
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        var window = o.Window;
        return result with
        {
            InsertsPerSecond = o.Calls / wall.Elapsed.TotalSeconds,
            FirstInserts = Timing.Of(ticks.AsSpan(0, window)),
            LastInserts = Timing.Of(ticks.AsSpan(o.Calls - window, window)),
            Gen2DuringFill = gen2,
            ManagedBytesPerCall = (heapAfter - heapBefore) / (double)o.Calls,
            FileBytesPerCall = await calls.DatabaseBytesAsync() / (double)o.Calls,
        };
    }

    /// <summary>Events on random existing calls (the leg answered again with a newer publish time: one event each),
    /// then lookups of random calls by id and by SIP Call-ID.</summary>
    private async Task<(Timing Event, Timing ById, Timing BySipCallId)> EventsAndLookupsAsync(TrackedCalls calls, int present, Random random)
    {
        var before = calls.Events.Count;
        var ticks = new long[o.Events];
        Collect();
        await PublishTimedAsync(calls, ticks, _ => random.Next(present), answered: true);
        await calls.Events.WaitForAsync(before + o.Events);
        var events = Timing.Of(ticks);

        var targets = Enumerable.Range(0, o.Lookups).Select(_ => random.Next(present)).ToArray();
        var ids = targets.Select(calls.CallId).ToArray();
        var sipCallIds = targets.Select(calls.SipCallId).ToArray();
        return (events, await LookupsAsync(calls, ids), await LookupsAsync(calls, sipCallIds));
    }

    /// <summary>What a stream subscription does first: <c>SnapshotAsync</c> of every live call (writes wait meanwhile).</summary>
    private static async Task<Timing> SnapshotsAsync(TrackedCalls calls, int present)
    {
        var ticks = new long[5];
        Collect();
        for (var k = 0; k < ticks.Length; k++)
        {
            var start = Stopwatch.GetTimestamp();
            var count = await calls.Tracker.SnapshotAsync(_ => true, null, (snapshot, _) => snapshot.Count);
            ticks[k] = Stopwatch.GetTimestamp() - start;
            if (count != present) throw new InvalidOperationException($"the snapshot has {count} calls, {present} expected");
        }
        return Timing.Of(ticks);
    }

    private async Task<Timing> LookupsAsync(TrackedCalls calls, string[] keys)
    {
        var ticks = new long[keys.Length];
        Collect();
        for (var k = 0; k < keys.Length; k++)
        {
            var start = Stopwatch.GetTimestamp();
            var found = await calls.Tracker.FindAsync(keys[k]);
            ticks[k] = Stopwatch.GetTimestamp() - start;
            if (found is null) throw new InvalidOperationException($"call {keys[k]} not found");
        }
        return Timing.Of(ticks);
    }

    /// <summary>In memory, bounded by N: inserts beyond it, each of which evicts the oldest live call.</summary>
    private async Task<RoundResult> EvictAsync(TrackedCalls calls, RoundResult result)
    {
        var ticks = new long[o.Evict];
        var before = calls.Events.Count;
        Collect();
        await PublishTimedAsync(calls, ticks, k => o.Calls + k, answered: false);
        await calls.Events.WaitForAsync(before + o.Evict);
        var count = ((InMemoryCallStore)calls.Store).Count;
        if (count != o.Calls) throw new InvalidOperationException($"the store holds {count} calls after eviction, {o.Calls} expected");
        if (await calls.Tracker.FindAsync(calls.CallId(0)) is not null) throw new InvalidOperationException("the oldest call was not evicted");
        return result with { EvictingInserts = Timing.Of(ticks), CallsAfterEviction = count };
    }

    /// <summary>Publishes one leg per slot of <paramref name="ticks"/> (call <paramref name="callOf"/>(slot): a new one
    /// ringing, or an existing one answered again) and times each publication alone.</summary>
    private static async Task PublishTimedAsync(TrackedCalls calls, long[] ticks, Func<int, int> callOf, bool answered)
    {
        for (var k = 0; k < ticks.Length; k++)
        {
            var call = callOf(k);
            var item = answered ? calls.Answered(call) : calls.Ringing(call);
            var itemId = calls.ItemId(call);
            var start = Stopwatch.GetTimestamp();
            await calls.Tracker.ApplyPublishedAsync(item, itemId, TrackedCalls.Node);
            ticks[k] = Stopwatch.GetTimestamp() - start;
        }
    }

    private static void Collect()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }
}

/// <summary>The Markdown report: one table per store, a row per metric, a column per round and the median of the
/// rounds (docs/benchmarks.md shows the medians, docs/benchmarks-archive.md every round).</summary>
internal static class Report
{
    public static string Markdown(CallsBenchOptions o, Dictionary<StoreKind, List<RoundResult>> results, DateTimeOffset startedAt, string loadAtStart,
        string loadAtEnd)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Run {startedAt:yyyy-MM-dd HH:mm} UTC; {o.Calls:N0} calls, {o.SmallCalls:N0} for the small comparison, {o.Events:N0} events and " +
                           $"{o.Lookups:N0} lookups of each kind per measurement, {o.Evict:N0} evicting inserts, {o.Rounds} rounds (warm-up " +
                           $"{o.WarmupCalls:N0} calls first). Load average (1/5/15 min): {loadAtStart} at start, {loadAtEnd} at end.");
        sb.AppendLine(inv, $"Machine: nproc {Environment.ProcessorCount}; {CpuModel()}; {RuntimeInformation.OSDescription}; .NET {Environment.Version}; " +
                           $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC, concurrent {(AppContext.TryGetSwitch("System.GC.Concurrent", out var c) ? c : true)}.");
        foreach (var (kind, rounds) in results)
        {
            sb.AppendLine();
            var title = kind == StoreKind.Memory ? string.Create(inv, $"In-memory store (MaxCalls {o.Calls:N0})") : "SQLite store (temp file)";
            sb.AppendLine(inv, $"**{title}**; times in µs per operation, through `CallTracker` (gate, store, state machine, commit, publication to one consumer).");
            sb.AppendLine();
            sb.Append("| metric |");
            foreach (var r in rounds) sb.Append(inv, $" round {r.Round} |");
            sb.AppendLine(" median |");
            sb.Append("| --- |");
            foreach (var _ in rounds) sb.Append(" ---: |");
            sb.AppendLine(" ---: |");
            var n = $"{o.Calls / 1000:N0}k";
            var s = o.SmallCalls >= 1000 ? $"{o.SmallCalls / 1000:N0}k" : $"{o.SmallCalls}";
            var w = $"{o.Window / 1000.0:0.#}k";
            Row(sb, rounds, $"insert throughput, 0 → {n} calls (calls/s)", r => r.InsertsPerSecond, "N0");
            TimingRows(sb, rounds, $"insert, first {w}", r => r.FirstInserts);
            TimingRows(sb, rounds, $"insert, last {w}", r => r.LastInserts);
            Row(sb, rounds, $"**ratio last/first {w}, mean**", r => r.LastInserts.MeanUs / r.FirstInserts.MeanUs, "F2");
            Row(sb, rounds, $"**ratio last/first {w}, p50**", r => r.LastInserts.P50Us / r.FirstInserts.P50Us, "F2");
            Row(sb, rounds, "gen2 GCs during the fill", r => r.Gen2DuringFill, "N0");
            Row(sb, rounds, "**managed heap per call (bytes)**", r => r.ManagedBytesPerCall, "N0");
            if (kind == StoreKind.Sqlite) Row(sb, rounds, "**database file per call (bytes, after checkpoint)**", r => r.FileBytesPerCall, "N0");
            TimingRows(sb, rounds, $"event on an existing call, {n} present", r => r.EventAtN);
            TimingRows(sb, rounds, $"event on an existing call, {s} present", r => r.EventAtSmall);
            Row(sb, rounds, $"**ratio event {n}/{s}, mean**", r => r.EventAtN.MeanUs / r.EventAtSmall.MeanUs, "F2");
            Row(sb, rounds, $"**ratio event {n}/{s}, p50**", r => r.EventAtN.P50Us / r.EventAtSmall.P50Us, "F2");
            TimingRows(sb, rounds, $"FindAsync by id, {n} present", r => r.FindByIdAtN);
            TimingRows(sb, rounds, $"FindAsync by SIP Call-ID, {n} present", r => r.FindBySipCallIdAtN);
            Row(sb, rounds, $"FindAsync by id, {s} present, p50", r => r.FindByIdAtSmall.P50Us, "F2");
            Row(sb, rounds, $"FindAsync by SIP Call-ID, {s} present, p50", r => r.FindBySipCallIdAtSmall.P50Us, "F2");
            Row(sb, rounds, $"SnapshotAsync of every live call (a stream subscription), {n} present, mean", r => r.SnapshotAtN.MeanUs, "N0");
            Row(sb, rounds, $"SnapshotAsync of every live call, {s} present, mean", r => r.SnapshotAtSmall.MeanUs, "N0");
            if (kind == StoreKind.Memory && o.Evict > 0)
            {
                TimingRows(sb, rounds, $"insert that evicts, {n} present ({o.Evict / 1000.0:0.#}k)", r => r.EvictingInserts);
                Row(sb, rounds, $"**ratio evicting/last {w} non-evicting, mean**", r => r.EvictingInserts.MeanUs / r.LastInserts.MeanUs, "F2");
                Row(sb, rounds, $"**ratio evicting/last {w} non-evicting, p50**", r => r.EvictingInserts.P50Us / r.LastInserts.P50Us, "F2");
            }
        }
        return sb.ToString();
    }

    private static void TimingRows(StringBuilder sb, List<RoundResult> rounds, string what, Func<RoundResult, Timing> timing)
    {
        Row(sb, rounds, what + ", mean", r => timing(r).MeanUs, "F2");
        Row(sb, rounds, what + ", p50", r => timing(r).P50Us, "F2");
        Row(sb, rounds, what + ", p99", r => timing(r).P99Us, "F2");
    }

    private static void Row(StringBuilder sb, List<RoundResult> rounds, string what, Func<RoundResult, double> value, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"| {what} |");
        foreach (var r in rounds) sb.Append(inv, $" {value(r).ToString(format, inv)} |");
        var sorted = rounds.Select(value).Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        sb.AppendLine(inv, $" {median.ToString(format, inv)} |");
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
