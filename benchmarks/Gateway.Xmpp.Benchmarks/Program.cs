using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using Gateway.Xmpp.Benchmarks;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;

// IQ round trips through Prosody: the library (one connection, and the pool) against a raw-socket client, in one run.
// See docs/benchmarks.md and benchmarks/run-xmpp-benchmark.sh, which starts the server and calls this.

BenchOptions options;
try { options = BenchOptions.Parse(args); }
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync("error: " + e.Message);
    await Console.Error.WriteLineAsync(BenchOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var ct = cancel.Token;

var targets = new List<IBenchTarget>();
foreach (var name in options.Clients)
{
    targets.Add(name switch
    {
        "raw" => new RawXmppClient("raw", options.Host, options.Port, options.Domain, options.User("raw"), options.Password, "raw", options.CaPath, streamManagement: false),
        "raw-sm" => new RawXmppClient("raw-sm", options.Host, options.Port, options.Domain, options.User("raw"), options.Password, "raw-sm", options.CaPath, streamManagement: true),
        "lib" => new LibraryClientTarget("lib", options.ClientOptions("lib", streamManagement: true)),
        "lib-nosm" => new LibraryClientTarget("lib-nosm", options.ClientOptions("nosm", streamManagement: false)),
        "pool" => new LibraryPoolTarget("pool", options.ClientOptions("pool", streamManagement: true), options.PoolSize),
        _ => throw new InvalidOperationException(name),
    });
}

var meter = new CpuMeter(options.ProsodyPid);
var results = new List<RunResult>();
var loadBefore = LoadAverage();
try
{
    foreach (var target in targets)
    {
        Log($"connecting {target.Name}: {target.Description}");
        await target.ConnectAsync(ct);
    }

    // Warm-up: JIT tiering, TLS session state, Prosody's allocations; one sequential and one concurrent pass per client.
    var warmupRecorder = new LatencyRecorder(Math.Max(options.Warmup, 1));
    foreach (var target in targets)
    {
        Log($"warming up {target.Name} ({options.Warmup} round trips)");
        await target.RunAsync(Math.Max(1, options.Warmup / 10), 1, warmupRecorder, ct);
        await target.RunAsync(options.Warmup, options.Concurrency.Max(), warmupRecorder, ct);
    }

    var recorders = targets.ToDictionary(t => t, _ => new LatencyRecorder(Math.Max(options.SequentialCount, options.Count)));
    for (var round = 1; round <= options.Rounds; round++)
    {
        // The clients' runs of one concurrency are cut into slices and interleaved (A B C, C B A, A B C, ...), so every
        // client sees the same machine: this is a shared VM whose speed drifts by tens of percent within seconds. The
        // starting order rotates each round, so no client always goes first.
        var start = (round - 1) % targets.Count;
        IBenchTarget[] order = [.. targets[start..], .. targets[..start]];
        foreach (var concurrency in options.Concurrency)
        {
            var count = concurrency == 1 ? options.SequentialCount : options.Count;
            var slices = Math.Min(options.Slices, count);
            // Other processes on the machine (builds, tests) must not land in a run: wait for a quiet moment.
            var busyBefore = await meter.WaitForQuietAsync(options.QuietBusy, TimeSpan.FromSeconds(options.QuietWaitSeconds), ct);
            if (busyBefore > options.QuietBusy) Log($"the machine stayed busy ({busyBefore:P0} of a core); measuring anyway");

            var samples = targets.ToDictionary(t => t, _ => new List<(CpuSample Start, CpuSample End)>());
            var acksBefore = targets.ToDictionary(t => t, t => t.Acks);
            foreach (var target in targets) recorders[target].Clear();
            var done = 0;
            for (var slice = 0; slice < slices; slice++)
            {
                var sliceCount = count / slices + (slice < count % slices ? 1 : 0);
                foreach (var target in slice % 2 == 0 ? order : order.AsEnumerable().Reverse())
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    await Task.Delay(50, ct);   // let the server drain acks and settle between runs
                    var recorder = recorders[target];
                    recorder.Offset = done;
                    var before = meter.Take();
                    await target.RunAsync(sliceCount, concurrency, recorder, ct);
                    samples[target].Add((before, meter.Take()));
                }
                done += sliceCount;
            }

            foreach (var target in order)
            {
                var acks = target.Acks is { } a1 && acksBefore[target] is { } a0 ? Difference(a1, a0) : (StreamManagementStatistics?)null;
                var cpu = meter.Between(samples[target]);
                var seconds = samples[target].Sum(s => TimeSpanSeconds(s.Start, s.End));
                var result = new RunResult(target.Name, concurrency, count, round, seconds, count / seconds, recorders[target].Summarize(count), cpu, acks);
                results.Add(result);
                Log($"round {round} {target.Name,-8} K={concurrency,-3} {result.Rate,9:N0} rt/s  p50 {result.Latency.P50Ms:0.000} ms  p99 {result.Latency.P99Ms:0.000} ms  " +
                    $"max {result.Latency.MaxMs:0.0} ms  harness {cpu.Harness:P0}  prosody {Percent(cpu.Prosody)}  other {Percent(cpu.Other)}" +
                    $"  alloc {cpu.Allocated / count} B/rt gen0 {cpu.Gen0Collections}" +
                    (cpu.ProsodyIo is { } io ? $"  prosody reads/rt {(double)io.Reads / count:0.00} writes/rt {(double)io.Writes / count:0.00} in {io.BytesRead / count} B/rt out {io.BytesWritten / count} B/rt" : "") +
                    (acks is { } ack ? $"  <r/> in {ack.AckRequestsReceived} <a/> out {ack.AcksSent} <r/> out {ack.AckRequestsSent} <a/> in {ack.AcksReceived}" : ""));
            }
        }
    }

    foreach (var target in targets.OfType<IqSenderTarget>())
        if (target.UnmatchedReplies != 0) throw new InvalidOperationException($"{target.Name} dropped {target.UnmatchedReplies} unmatched replies.");
}
finally
{
    foreach (var target in targets)
    {
        try { await target.DisposeAsync(); }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { Log($"closing {target.Name}: {e.Message}"); }
    }
}

var report = Report.Markdown(options, targets, results, loadBefore, LoadAverage());
Console.WriteLine(report);
if (options.MarkdownPath is not null) await File.WriteAllTextAsync(options.MarkdownPath, report, CancellationToken.None);
return 0;

static double TimeSpanSeconds(CpuSample a, CpuSample b) => System.Diagnostics.Stopwatch.GetElapsedTime(a.Timestamp, b.Timestamp).TotalSeconds;

static StreamManagementStatistics Difference(StreamManagementStatistics after, StreamManagementStatistics before) => new(
    after.AckRequestsReceived - before.AckRequestsReceived, after.AcksSent - before.AcksSent,
    after.AckRequestsSent - before.AckRequestsSent, after.AcksReceived - before.AcksReceived, after.Unacked, after.InconsistentAcks);

// The 1, 5 and 15 minute load averages: how busy the shared machine was around the run.
static string LoadAverage()
{
    try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
    catch (IOException) { return "n/a"; }
}

static string Percent(double? fraction) => fraction is { } f ? f.ToString("P0", CultureInfo.InvariantCulture) : "n/a";

static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

namespace Gateway.Xmpp.Benchmarks
{
    public sealed record RunResult(string Client, int Concurrency, int Count, int Round, double Seconds, double Rate, LatencySummary Latency, CpuUsage Cpu,
        StreamManagementStatistics? Acks);

    public sealed class BenchOptions
    {
        public const string Usage = """
            usage: Gateway.Xmpp.Benchmarks --port PORT --ca CA.crt --password PASSWORD [options]

              --host HOST           server address                                 [127.0.0.1]
              --port PORT           c2s port (STARTTLS)
              --domain DOMAIN       XMPP domain; the ping goes to it                [activecalls.test]
              --ca FILE             dev CA certificate to trust
              --user-prefix NAME    accounts are NAME-raw (raw, raw-sm), NAME-lib, NAME-nosm, NAME-pool  [bench]
              --password PASSWORD   password of those accounts
              --clients LIST        any of raw,raw-sm,lib,pool,lib-nosm             [all five]
              --concurrency LIST    outstanding requests per run                   [1,8,64]
              --sequential-count N  round trips of a run with concurrency 1         [2000]
              --count N             round trips of a run with concurrency > 1       [10000]
              --rounds N            repetitions of every run (median reported)      [7]
              --slices N            a run is cut into N slices, interleaved with the other clients' [4]
              --warmup N            warm-up round trips per client                  [5000]
              --pool-size N         connections of the pool                         [4]
              --prosody-pid PID     Prosody's pid, to report its CPU use
              --quiet-busy F        before each run, wait until the machine uses at most F cores  [0.15]
              --quiet-wait S        ...but no longer than S seconds                 [60]
              --markdown FILE       also write the report to FILE
            """;

        public bool Help { get; private set; }
        public string Host { get; private set; } = "127.0.0.1";
        public int Port { get; private set; }
        public string Domain { get; private set; } = "activecalls.test";
        public string CaPath { get; private set; } = "";
        public string UserPrefix { get; private set; } = "bench";
        public string Password { get; private set; } = "";
        public IReadOnlyList<string> Clients { get; private set; } = ["raw", "raw-sm", "lib", "pool", "lib-nosm"];
        public IReadOnlyList<int> Concurrency { get; private set; } = [1, 8, 64];
        public int SequentialCount { get; private set; } = 2000;
        // Many short rounds rather than a few long ones: the VM's speed swings by ±25 % within seconds, and the ratio to
        // raw is taken per round.
        public int Count { get; private set; } = 10000;
        public int Rounds { get; private set; } = 7;
        public int Slices { get; private set; } = 4;
        public int Warmup { get; private set; } = 5000;
        public int PoolSize { get; private set; } = 4;
        public int? ProsodyPid { get; private set; }
        public double QuietBusy { get; private set; } = 0.15;
        public int QuietWaitSeconds { get; private set; } = 60;
        public string? MarkdownPath { get; private set; }

        public string User(string kind) => $"{UserPrefix}-{kind}";

        public XmppClientOptions ClientOptions(string kind, bool streamManagement) => new()
        {
            Host = Host,
            Port = Port,
            Jid = new Jid(User(kind), Domain),
            Password = Password,
            Resource = kind,
            Tls = new Transport.TlsOptions { TrustedCertificatePath = CaPath },
            EnableStreamManagement = streamManagement,
        };

        public static BenchOptions Parse(string[] args)
        {
            var o = new BenchOptions();
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Number(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                    ? n : throw new ArgumentException($"{args[i - 1]} needs a whole number >= {min}");
                switch (args[i])
                {
                    case "-h" or "--help": o.Help = true; break;
                    case "--host": o.Host = Value(); break;
                    case "--port": o.Port = Number(1); break;
                    case "--domain": o.Domain = Value(); break;
                    case "--ca": o.CaPath = Value(); break;
                    case "--user-prefix": o.UserPrefix = Value(); break;
                    case "--password": o.Password = Value(); break;
                    case "--clients":
                        o.Clients = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
                        if (o.Clients.Count == 0 || o.Clients.Any(c => c is not ("raw" or "raw-sm" or "lib" or "lib-nosm" or "pool")))
                            throw new ArgumentException("--clients takes raw, raw-sm, lib, lib-nosm and pool");
                        break;
                    case "--concurrency":
                        o.Concurrency = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                            .Select(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var k) && k is >= 1 and <= 1000
                                ? k : throw new ArgumentException("--concurrency takes numbers from 1 to 1000"))
                            .Distinct().Order().ToArray();
                        if (o.Concurrency.Count == 0) throw new ArgumentException("--concurrency is empty");
                        break;
                    case "--sequential-count": o.SequentialCount = Number(1); break;
                    case "--count": o.Count = Number(1); break;
                    case "--rounds": o.Rounds = Number(1); break;
                    case "--slices": o.Slices = Number(1); break;
                    case "--warmup": o.Warmup = Number(0); break;
                    case "--pool-size": o.PoolSize = Number(1); break;
                    case "--prosody-pid": o.ProsodyPid = Number(1); break;
                    case "--markdown": o.MarkdownPath = Value(); break;
                    case "--quiet-busy":
                        o.QuietBusy = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f >= 0
                            ? f : throw new ArgumentException("--quiet-busy needs a number of cores");
                        break;
                    case "--quiet-wait": o.QuietWaitSeconds = Number(0); break;
                    default: throw new ArgumentException($"unknown argument {args[i]}");
                }
            }
            if (o.Help) return o;
            if (o.Port == 0) throw new ArgumentException("--port is required");
            if (!File.Exists(o.CaPath)) throw new ArgumentException("--ca must name the dev CA certificate");
            if (o.Password.Length == 0) throw new ArgumentException("--password is required");
            return o;
        }
    }

    public static class Report
    {
        /// <summary>Other processes using more than this (a share of one core) during a run make it suspect.</summary>
        public const double DisturbedAbove = 0.25;

        public static string Markdown(BenchOptions options, IReadOnlyList<IBenchTarget> targets, IReadOnlyList<RunResult> results, string loadBefore, string loadAfter)
        {
            var inv = CultureInfo.InvariantCulture;
            var w = new StringWriter(inv);
            w.WriteLine($"Runtime: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} logical CPUs, " +
                        $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC; {options.Rounds} rounds, median reported (min–max of the rounds in brackets); " +
                        "vs raw is the median of the per-round ratios to the raw client's run at the same K. " +
                        $"Load average (1/5/15 min) before the first run {loadBefore}, after the last {loadAfter}.");
            w.WriteLine();
            foreach (var t in targets) w.WriteLine($"- `{t.Name}`: {t.Description}");
            w.WriteLine();
            w.WriteLine("| client | outstanding (K) | round trips | round trips/s | vs raw | p50 ms | p99 ms | max ms | client CPU µs/rt | Prosody CPU µs/rt | client CPU | Prosody CPU | other CPU | disturbed runs |");
            w.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
            foreach (var k in options.Concurrency)
            {
                var rawByRound = results.Where(r => r.Client == "raw" && r.Concurrency == k).ToDictionary(r => r.Round, r => r.Rate);
                foreach (var t in targets)
                {
                    var runs = results.Where(r => r.Client == t.Name && r.Concurrency == k).ToArray();
                    if (runs.Length == 0) continue;
                    var rate = Median(runs.Select(r => r.Rate));
                    // The ratio is taken within each round (runs minutes apart see a different machine), then the median.
                    var ratios = runs.Where(r => rawByRound.ContainsKey(r.Round)).Select(r => r.Rate / rawByRound[r.Round]).ToArray();
                    var vsRaw = ratios.Length == 0 ? "–"
                        : ratios.Length == 1 ? ratios[0].ToString("0.00", inv)
                        : string.Create(inv, $"{Median(ratios):0.00} ({ratios.Min():0.00}–{ratios.Max():0.00})");
                    var clientUs = Median(runs.Select(r => r.Cpu.HarnessTime.TotalMicroseconds / r.Count));
                    var prosodyUs = runs.All(r => r.Cpu.ProsodyTime is not null) ? Median(runs.Select(r => r.Cpu.ProsodyTime!.Value.TotalMicroseconds / r.Count)).ToString("0", inv) : "n/a";
                    var prosodyCpu = runs.All(r => r.Cpu.Prosody is not null) ? Median(runs.Select(r => r.Cpu.Prosody!.Value)).ToString("P0", inv) : "n/a";
                    var clientCpu = Median(runs.Select(r => r.Cpu.Harness)).ToString("P0", inv);
                    var otherCpu = runs.All(r => r.Cpu.Other is not null) ? Median(runs.Select(r => r.Cpu.Other!.Value)).ToString("P0", inv) : "n/a";
                    w.WriteLine(string.Create(inv,
                        $"| {t.Name} | {k} | {runs[0].Count:N0} | {rate:N0} ({runs.Min(r => r.Rate):N0}–{runs.Max(r => r.Rate):N0}) | {vsRaw} | " +
                        $"{Median(runs.Select(r => r.Latency.P50Ms)):0.000} | {Median(runs.Select(r => r.Latency.P99Ms)):0.000} | {runs.Max(r => r.Latency.MaxMs):0.0} | " +
                        $"{clientUs:0} | {prosodyUs} | {clientCpu} | {prosodyCpu} | {otherCpu} | {runs.Count(r => r.Cpu.Other > DisturbedAbove)}/{runs.Length} |"));
                }
            }
            w.WriteLine();
            w.WriteLine($"CPU columns are shares of one core (the machine has {Environment.ProcessorCount * 100}%); µs/rt is CPU time per round trip; " +
                        "client is this benchmark process (workers included), other is the rest of the machine (other processes, kernel work " +
                        $"outside both); a run is disturbed when other used more than {DisturbedAbove:P0} of a core. max ms is the worst of all rounds.");

            w.WriteLine();
            w.WriteLine("Per round trip (medians): the client's managed allocations and gen-0 collections per 10,000 round trips; " +
                        "Prosody's read(2)/write(2) calls on its TLS sockets and the TLS bytes they moved (from /proc/PID/io); " +
                        "XEP-0198 elements per 100 round trips, as the client counted them: Prosody's ack requests (<r/>) and the client's answers (<a/>), " +
                        "the client's own requests and Prosody's answers (– without XEP-0198).");
            w.WriteLine();
            w.WriteLine("| client | K | client alloc B/rt | gen-0 GCs /10k rt | Prosody reads/rt | Prosody writes/rt | bytes to Prosody/rt | bytes from Prosody/rt | <r/> from Prosody /100 rt | <a/> to Prosody /100 rt | <r/> to Prosody /100 rt | <a/> from Prosody /100 rt |");
            w.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
            foreach (var k in options.Concurrency)
            foreach (var t in targets)
            {
                var runs = results.Where(r => r.Client == t.Name && r.Concurrency == k).ToArray();
                if (runs.Length == 0) continue;
                string Io(Func<IoCounters, long> f, string format) => runs.All(r => r.Cpu.ProsodyIo is not null)
                    ? Median(runs.Select(r => (double)f(r.Cpu.ProsodyIo!.Value) / r.Count)).ToString(format, inv) : "n/a";
                string Acks(Func<StreamManagementStatistics, long> f) => runs.All(r => r.Acks is not null)
                    ? Median(runs.Select(r => f(r.Acks!.Value) * 100.0 / r.Count)).ToString("0.0", inv) : "–";
                w.WriteLine(string.Create(inv,
                    $"| {t.Name} | {k} | {Median(runs.Select(r => (double)r.Cpu.Allocated / r.Count)):N0} | {Median(runs.Select(r => r.Cpu.Gen0Collections * 10_000.0 / r.Count)):0.0} | " +
                    $"{Io(io => io.Reads, "0.00")} | {Io(io => io.Writes, "0.00")} | {Io(io => io.BytesRead, "0")} | {Io(io => io.BytesWritten, "0")} | " +
                    $"{Acks(a => a.AckRequestsReceived)} | {Acks(a => a.AcksSent)} | {Acks(a => a.AckRequestsSent)} | {Acks(a => a.AcksReceived)} |"));
            }
            return w.ToString();
        }

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
