using System.Diagnostics;
using System.Globalization;

namespace Gateway.Xmpp.Benchmarks;

/// <summary>CPU time of this process, of the Prosody process (from /proc) and of the whole machine, so a run can say which
/// side was busy: a client that is cheaper per round trip than the server cannot be what limits throughput.</summary>
public sealed class CpuMeter(int? prosodyPid)
{
    // USER_HZ, the unit of /proc/*/stat and /proc/stat times: 100 on every mainstream Linux build.
    private const double ClockTicksPerSecond = 100;

    public CpuSample Take() => new(Stopwatch.GetTimestamp(), Environment.CpuUsage.TotalTime, ProsodyTime(), MachineBusyTime(), ProsodyIo(),
        GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0));

    /// <summary>CPU use over the given intervals together (the slices of one client's run).</summary>
    public CpuUsage Between(IReadOnlyList<(CpuSample Start, CpuSample End)> intervals)
    {
        var wall = Sum(intervals, (a, b) => Stopwatch.GetElapsedTime(a.Timestamp, b.Timestamp));
        var harness = Sum(intervals, (a, b) => b.Harness - a.Harness);
        var prosody = intervals.All(i => i.Start.Prosody is not null && i.End.Prosody is not null)
            ? Sum(intervals, (a, b) => b.Prosody!.Value - a.Prosody!.Value) : (TimeSpan?)null;
        var machine = intervals.All(i => i.Start.Machine is not null && i.End.Machine is not null)
            ? Sum(intervals, (a, b) => b.Machine!.Value - a.Machine!.Value) : (TimeSpan?)null;
        var io = intervals.All(i => i.Start.ProsodyIo is not null && i.End.ProsodyIo is not null)
            ? intervals.Select(i => i.End.ProsodyIo!.Value - i.Start.ProsodyIo!.Value).Aggregate((x, y) => x + y) : (IoCounters?)null;
        return new CpuUsage(harness / wall, prosody / wall, machine / wall, harness, prosody, io,
            intervals.Sum(i => i.End.Allocated - i.Start.Allocated),
            intervals.Sum(i => i.End.Gen0Collections - i.Start.Gen0Collections));
    }

    private static TimeSpan Sum(IEnumerable<(CpuSample Start, CpuSample End)> intervals, Func<CpuSample, CpuSample, TimeSpan> delta) =>
        intervals.Aggregate(TimeSpan.Zero, (total, i) => total + delta(i.Start, i.End));

    /// <summary>Prosody's read and write system calls and bytes (/proc/PID/io). Its TLS library reads and writes the socket
    /// with read(2)/write(2), so these count the TLS reads and writes the server made.</summary>
    private IoCounters? ProsodyIo()
    {
        if (prosodyPid is null) return null;
        try
        {
            var values = File.ReadLines($"/proc/{prosodyPid}/io").Select(l => l.Split(':', 2))
                .ToDictionary(p => p[0].Trim(), p => long.Parse(p[1], CultureInfo.InvariantCulture));
            return new IoCounters(values["syscr"], values["syscw"], values["rchar"], values["wchar"]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyNotFoundException) { return null; }
    }

    /// <summary>Waits (up to <paramref name="limit"/>) until the machine is nearly idle, so background work of other
    /// processes does not land in a run. Returns the busy fraction (of one core) last seen.</summary>
    public async Task<double?> WaitForQuietAsync(double busyCores, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var before = MachineBusyTime();
            var start = Stopwatch.GetTimestamp();
            await Task.Delay(300, cancellationToken);
            var after = MachineBusyTime();
            if (before is null || after is null) return null;
            var busy = (after.Value - before.Value) / Stopwatch.GetElapsedTime(start);
            if (busy <= busyCores || Stopwatch.GetTimestamp() > deadline) return busy;
        }
    }

    private TimeSpan? ProsodyTime()
    {
        if (prosodyPid is null) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{prosodyPid}/stat");
            // Fields after "(comm)": state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
        }
        catch (IOException) { return null; }
    }

    private static TimeSpan? MachineBusyTime()
    {
        try
        {
            // "cpu  user nice system idle iowait irq softirq steal ...": busy is everything but idle and iowait.
            var line = File.ReadLines("/proc/stat").First();
            var values = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..9]
                .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var busy = values.Sum() - values[3] - values[4];
            return TimeSpan.FromSeconds(busy / ClockTicksPerSecond);
        }
        catch (IOException) { return null; }
    }
}

public readonly record struct CpuSample(long Timestamp, TimeSpan Harness, TimeSpan? Prosody, TimeSpan? Machine, IoCounters? ProsodyIo,
    long Allocated, int Gen0Collections);

public readonly record struct IoCounters(long Reads, long Writes, long BytesRead, long BytesWritten)
{
    public static IoCounters operator -(IoCounters a, IoCounters b) =>
        new(a.Reads - b.Reads, a.Writes - b.Writes, a.BytesRead - b.BytesRead, a.BytesWritten - b.BytesWritten);

    public static IoCounters operator +(IoCounters a, IoCounters b) =>
        new(a.Reads + b.Reads, a.Writes + b.Writes, a.BytesRead + b.BytesRead, a.BytesWritten + b.BytesWritten);
}

/// <summary>CPU use over a run, as a fraction of one core (1.0 = one core fully busy), and absolute CPU time.</summary>
/// <remarks>Allocated and Gen0Collections are this process's managed allocations and gen-0 collections over the run.</remarks>
public readonly record struct CpuUsage(double Harness, double? Prosody, double? Machine, TimeSpan HarnessTime, TimeSpan? ProsodyTime, IoCounters? ProsodyIo,
    long Allocated, int Gen0Collections)
{
    /// <summary>What neither the harness nor Prosody used: other processes, and the kernel's work outside both.</summary>
    public double? Other => Machine is { } m && Prosody is { } p ? Math.Max(0, m - Harness - p) : null;
}
