using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ActiveCalls.Sip;
using ActiveCalls.Sip.Benchmarks;
using ActiveCalls.Sip.CallControl;
using Microsoft.Extensions.Logging;

// Calls set up and torn down per second, and memory per active call, of ThirdPartyCallControlEngine against two
// sipp UAS phones on loopback. See docs/benchmarks.md ("SIP engine: call setup/teardown against sipp").
//
//   dotnet run -c Release --project benchmarks/ActiveCalls.Sip.Benchmarks -- \
//     [--calls 500] [--concurrency 1,10,50] [--repeat 2] [--active 200,500] [--warmup 100] [--sipp sipp]
//     [--scenario deploy/sipp/answer.xml] [--buffer 4194304 (sipp's -buff_size)] [--rcvbuf N (engine's SipOptions.ReceiveBufferSize; 0 = OS default)]
//
// Exit code 0 when every call connected and ended cleanly, 1 otherwise.

var settings = Settings.Parse(args);
var inv = CultureInfo.InvariantCulture;

Console.Error.WriteLine($"sipbench: rcvbuf {(settings.ReceiveBuffer?.ToString(inv) ?? "default")}, {Environment.ProcessorCount} cpus, .NET {RuntimeInformation.FrameworkDescription}, load {Machine.LoadAverage()}");
using var alice = await SippUas.StartAsync(settings.Sipp, settings.Scenario, "alice", settings.Buffer);
using var bob = await SippUas.StartAsync(settings.Sipp, settings.Scenario, "bob", settings.Buffer);

var options = new SipOptions
{
    BindAddress = "127.0.0.1",
    Port = 0,
    LocalDomains = ["bench.test"], // bob gets a leg of his own too: three legs a call, as for a local callee
};
if (settings.ReceiveBuffer is { } rcvbuf) options.ReceiveBufferSize = rcvbuf;
options.Contacts["alice@bench.test"] = $"127.0.0.1:{alice.Port}";
options.Contacts["bob@bench.test"] = $"127.0.0.1:{bob.Port}";

var observer = new BenchObserver();
using var logs = new CountingLoggerProvider();
using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(logs));
var engine = new ThirdPartyCallControlEngine(options, observer, TimeProvider.System, loggerFactory);
var bench = new Bench(engine, observer) { SippProcesses = [alice, bob] };
bool ok = true;

try
{
    // Warm-up: JIT, thread pool, sipp's call tables. Not reported.
    var warm = await bench.ThroughputAsync(settings.Warmup, Math.Min(10, settings.Warmup));
    ok &= warm.Failures == 0;
    Console.Error.WriteLine($"warm-up: {warm.Calls} calls, {warm.Failures} failures");

    var runs = new List<ThroughputResult>();
    for (int r = 0; r < settings.Repeat; r++)
    {
        foreach (int c in settings.Concurrency)
        {
            var result = await bench.ThroughputAsync(settings.Calls, c);
            ok &= result.Failures == 0 && result.Drained;
            runs.Add(result);
            Console.Error.WriteLine($"  C={c}: {result.CallsPerSecond:F0} calls/s, {result.Failures} failures, load {result.Load}");
        }
    }

    var memory = new List<MemoryResult>();
    foreach (int k in settings.Active)
    {
        var result = await bench.MemoryAsync(k);
        ok &= result.Failures == 0 && result.Drained;
        memory.Add(result);
        Console.Error.WriteLine($"  K={k}: {result.ManagedPerCall / 1024:F1} KiB managed/call, {result.Failures} failures, load {result.Load}");
    }

    long made = bench.CallsMade;
    bool aliceDone = await alice.WaitForCallsAsync(made, TimeSpan.FromSeconds(15));
    bool bobDone = await bob.WaitForCallsAsync(made, TimeSpan.FromSeconds(15));
    ok &= aliceDone && bobDone && alice.Stat("FailedCall(C)") == 0 && bob.Stat("FailedCall(C)") == 0;

    Console.WriteLine("### Setup + teardown throughput");
    Console.WriteLine();
    Console.WriteLine("| C (concurrent calls) | calls | calls/s | setup p50 / p99 / max (ms) | teardown p50 / p99 / max (ms) | failures | engine CPU ms/call | sipp CPU ms/call (both) | allocated KiB/call | load (1 min) before → after |");
    Console.WriteLine("|---:|---:|---:|---|---|---:|---:|---:|---:|---|");
    foreach (var r in runs)
    {
        Console.WriteLine(string.Create(inv,
            $"| {r.Concurrency} | {r.Calls} | {r.CallsPerSecond:F0} | {r.Setup.P50:F2} / {r.Setup.P99:F2} / {r.Setup.Max:F1} | {r.Teardown.P50:F2} / {r.Teardown.P99:F2} / {r.Teardown.Max:F1} | {r.Failures} | {r.EngineCpuMsPerCall:F2} | {r.SippCpuMsPerCall:F2} | {r.AllocatedPerCall / 1024:F1} | {r.Load} → {r.LoadAfter} |"));
    }
    Console.WriteLine();
    Console.WriteLine("### Memory per active call");
    Console.WriteLine();
    Console.WriteLine("| K (connected calls) | failures | dialogs held | managed heap before (MiB) | managed heap / call (KiB) | working set / call (KiB) | managed after teardown vs before (KiB) | working set after teardown vs before (MiB) | drain after teardown (s) |");
    Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var m in memory)
    {
        Console.WriteLine(string.Create(inv,
            $"| {m.Active} | {m.Failures} | {m.Dialogs} | {m.ManagedBefore / 1048576.0:F2} | {m.ManagedPerCall / 1024:F1} | {m.WorkingSetPerCall / 1024:F1} | {(m.ManagedAfter - m.ManagedBefore) / 1024.0:+0.0;-0.0} | {(m.WorkingSetAfter - m.WorkingSetBefore) / 1048576.0:+0.0;-0.0} | {m.DrainSeconds:F1} |"));
    }
    Console.WriteLine();
    Console.WriteLine("### Checks");
    Console.WriteLine();
    Console.WriteLine($"- calls created: {made}; leg updates {observer.Updates}, retracts {observer.Retracts}, events for unknown calls {observer.Unknown}");
    Console.WriteLine($"- retract reasons: {string.Join(", ", observer.EndReasons.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}");
    Console.WriteLine($"- engine at the end: ActiveCallCount {engine.ActiveCallCount}, PublishedLegCount {engine.PublishedLegCount}, dialogs {engine.UserAgent.DialogCount}, INVITEs {engine.UserAgent.InviteCount}, transactions {engine.UserAgent.TransactionCount}");
    Console.WriteLine($"- engine socket 127.0.0.1:{engine.UserAgent.LocalEndPoint.Port}: SO_RCVBUF requested {options.ReceiveBufferSize} (0 = OS default), datagrams the kernel dropped on it (receive buffer full, /proc/net/udp): {Machine.UdpDrops(engine.UserAgent.LocalEndPoint.Port)}");
    Console.WriteLine($"- SIP stack log: {logs.Warnings} warnings, {logs.Errors} errors{(logs.First.IsEmpty ? "" : "; first: " + string.Join(" | ", logs.First))}");
    foreach (var p in new[] { alice, bob })
    {
        Console.WriteLine($"- sipp {p.User}: SuccessfulCall {p.Stat("SuccessfulCall(C)")}, FailedCall {p.Stat("FailedCall(C)")}, CurrentCall {p.Stat("CurrentCall")}, Retransmissions {p.Stat("Retransmissions(C)")}, DeadCallMsgs {p.Stat("DeadCallMsgs(C)")}, OutOfCallMsgs {p.Stat("OutOfCallMsgs(C)")}, error-log lines {p.ErrorLines()}");
    }
    Console.WriteLine($"- result: {(ok ? "every call connected and ended; nothing left" : "FAILURES, see above")}");
}
finally
{
    await engine.DisposeAsync();
}
return ok ? 0 : 1;

internal sealed record Settings(int Calls, int[] Concurrency, int Repeat, int[] Active, int Warmup, string Sipp, string Scenario, int Buffer, int? ReceiveBuffer)
{
    public static Settings Parse(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument {args[i]}");
            map[args[i][2..]] = args[i + 1];
        }
        int Int(string k, int d) => map.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;
        int[] List(string k, string d) => (map.GetValueOrDefault(k) ?? d).Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var scenario = map.GetValueOrDefault("scenario") ?? Path.Combine(FindRepositoryRoot(), "deploy", "sipp", "answer.xml");
        return new Settings(Int("calls", 500), List("concurrency", "1,10,50"), Int("repeat", 1), List("active", "200,500"),
            Int("warmup", 100), map.GetValueOrDefault("sipp") ?? "sipp", Path.GetFullPath(scenario), Int("buffer", 4 * 1024 * 1024),
            map.ContainsKey("rcvbuf") ? Int("rcvbuf", 0) : null);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Gateway.sln) not found; pass --scenario");
    }
}

internal sealed record Percentiles(double P50, double P99, double Max)
{
    public static Percentiles Of(List<double> values)
    {
        if (values.Count == 0) return new Percentiles(double.NaN, double.NaN, double.NaN);
        values.Sort();
        double At(double q) => values[Math.Min(values.Count - 1, (int)Math.Ceiling(q * values.Count) - 1)];
        return new Percentiles(At(0.50), At(0.99), values[^1]);
    }
}

internal sealed record ThroughputResult(int Concurrency, int Calls, int Failures, double Seconds, Percentiles Setup, Percentiles Teardown,
    double EngineCpuMsPerCall, double SippCpuMsPerCall, double AllocatedPerCall, bool Drained, string Load, string LoadAfter)
{
    public double CallsPerSecond => Calls / Seconds;
}

internal sealed record MemoryResult(int Active, int Failures, int Dialogs, long ManagedBefore, long ManagedPeak, long ManagedAfter,
    long WorkingSetBefore, long WorkingSetPeak, long WorkingSetAfter, double DrainSeconds, bool Drained, string Load)
{
    public double ManagedPerCall => (ManagedPeak - ManagedBefore) / (double)Active;

    public double WorkingSetPerCall => (WorkingSetPeak - WorkingSetBefore) / (double)Active;
}

internal static class Machine
{
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>The <c>drops</c> column of /proc/net/udp for the IPv4 socket on <paramref name="port"/> (-1 if unknown).</summary>
    public static long UdpDrops(int port)
    {
        try
        {
            string local = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
            foreach (var line in File.ReadAllLines("/proc/net/udp")[1..])
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 12 && f[1].EndsWith(local, StringComparison.Ordinal)) return long.Parse(f[^1], CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return -1;
    }

    /// <summary>Full blocking collection, then the managed heap size and the working set.</summary>
    public static (long Managed, long WorkingSet) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long managed = GC.GetTotalMemory(true);
        using var self = Process.GetCurrentProcess();
        return (managed, self.WorkingSet64);
    }
}

internal sealed class Bench(ThirdPartyCallControlEngine engine, BenchObserver observer)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(40); // above the engine's 30 s ring timeout
    private int _next;
    private int _made;

    public int CallsMade => Volatile.Read(ref _made);

    /// <summary>A fresh 8-character call-setup id (the engine carries it on every leg; the observer finds calls by it).</summary>
    private string NextId() => "b" + Interlocked.Increment(ref _next).ToString("D7", CultureInfo.InvariantCulture);

    private Task CreateAsync(string id)
    {
        Interlocked.Increment(ref _made);
        return engine.CreateAsync(new CallSetup("sip:alice@bench.test", "sip:bob@bench.test", id, "bench@bench.test"), CancellationToken.None);
    }

    /// <summary><paramref name="calls"/> calls, <paramref name="concurrency"/> at a time: create → connected → terminate → every leg retracted.</summary>
    public async Task<ThroughputResult> ThroughputAsync(int calls, int concurrency)
    {
        await WaitDrainedAsync(TimeSpan.FromSeconds(60));
        string load = Machine.LoadAverage();
        var setup = new List<double>(calls);
        var teardown = new List<double>(calls);
        int failures = 0;
        int remaining = calls;
        var sippCpu0 = SippCpu();
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        long allocated0 = GC.GetTotalAllocatedBytes(false);
        var wall = Stopwatch.StartNew();

        async Task Worker()
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                var id = NextId();
                var call = observer.Register(id);
                try
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await CreateAsync(id);
                    var dialog = await call.Connected.Task.WaitAsync(CallTimeout);
                    long t1 = Stopwatch.GetTimestamp();
                    await engine.TerminateAsync(dialog, CancellationToken.None);
                    var reason = await call.Ended.Task.WaitAsync(CallTimeout);
                    long t2 = Stopwatch.GetTimestamp();
                    if (reason != "terminated") throw new InvalidOperationException($"ended '{reason}'");
                    lock (setup)
                    {
                        setup.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                        teardown.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
                    }
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or CallControlException)
                {
                    Interlocked.Increment(ref failures);
                    Console.Error.WriteLine($"call {id} failed: {e.Message}");
                    observer.Forget(id);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        wall.Stop();
        var cpu = self.TotalProcessorTimeNow() - cpu0;
        var sippCpu = SippCpu() - sippCpu0;
        long allocated = GC.GetTotalAllocatedBytes(false) - allocated0;
        string loadAfter = Machine.LoadAverage();
        bool drained = await WaitDrainedAsync(TimeSpan.FromSeconds(60));
        return new ThroughputResult(concurrency, calls, failures, wall.Elapsed.TotalSeconds, Percentiles.Of(setup), Percentiles.Of(teardown),
            cpu.TotalMilliseconds / calls, sippCpu.TotalMilliseconds / calls, allocated / (double)calls, drained, load, loadAfter);
    }

    /// <summary><paramref name="active"/> calls connected at once: memory before, with them up, and after they are torn down.</summary>
    public async Task<MemoryResult> MemoryAsync(int active)
    {
        await WaitDrainedAsync(TimeSpan.FromSeconds(60));
        string load = Machine.LoadAverage();
        var before = Machine.Measure();
        int failures = 0;
        var ids = Enumerable.Range(0, active).Select(_ => NextId()).ToArray();
        var calls = ids.Select(observer.Register).ToArray();
        var dialogs = new DialogId?[active];
        using (var gate = new SemaphoreSlim(50))
        {
            await Task.WhenAll(ids.Select(async (id, i) =>
            {
                await gate.WaitAsync();
                try
                {
                    await CreateAsync(id);
                    dialogs[i] = await calls[i].Connected.Task.WaitAsync(CallTimeout);
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or CallControlException)
                {
                    Interlocked.Increment(ref failures);
                    Console.Error.WriteLine($"call {id} failed: {e.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        if (engine.ActiveCallCount != active - failures)
        {
            Console.Error.WriteLine($"ActiveCallCount {engine.ActiveCallCount} with {active - failures} calls connected");
        }
        int dialogsHeld = engine.UserAgent.DialogCount;
        var peak = Machine.Measure();

        var ending = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(50))
        {
            await Task.WhenAll(dialogs.Select(async (dialog, i) =>
            {
                if (dialog is null) return;
                await gate.WaitAsync();
                try
                {
                    await engine.TerminateAsync(dialog, CancellationToken.None);
                    var reason = await calls[i].Ended.Task.WaitAsync(CallTimeout);
                    if (reason != "terminated") throw new InvalidOperationException($"ended '{reason}'");
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or CallControlException)
                {
                    Interlocked.Increment(ref failures);
                    Console.Error.WriteLine($"call {ids[i]} failed at teardown: {e.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        foreach (var id in ids) observer.Forget(id);
        bool drained = await WaitDrainedAsync(TimeSpan.FromSeconds(60));
        double drainSeconds = ending.Elapsed.TotalSeconds;
        Array.Clear(calls); // the harness's own per-call state (trackers, dialog ids) is not the engine's residue
        Array.Clear(dialogs);
        Array.Clear(ids);
        var after = Machine.Measure();
        return new MemoryResult(active, failures, dialogsHeld, before.Managed, peak.Managed, after.Managed,
            before.WorkingSet, peak.WorkingSet, after.WorkingSet, drainSeconds, drained, load);
    }

    /// <summary>Waits until no call, dialog, INVITE or transaction is left (BYE transactions linger for Timer K).</summary>
    private async Task<bool> WaitDrainedAsync(TimeSpan timeout)
    {
        var ua = engine.UserAgent;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (engine.ActiveCallCount == 0 && engine.PublishedLegCount == 0 && ua.DialogCount == 0 && ua.InviteCount == 0 && ua.TransactionCount == 0) return true;
            await Task.Delay(50);
        }
        Console.Error.WriteLine($"not drained after {timeout.TotalSeconds} s: calls {engine.ActiveCallCount}, legs {engine.PublishedLegCount}, dialogs {ua.DialogCount}, INVITEs {ua.InviteCount}, transactions {ua.TransactionCount}");
        return false;
    }

    private TimeSpan SippCpu() => SippProcesses.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.CpuTime);

    public IReadOnlyList<SippUas> SippProcesses { get; init; } = [];
}

internal static class ProcessExtensions
{
    public static TimeSpan TotalProcessorTimeNow(this Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }
}
