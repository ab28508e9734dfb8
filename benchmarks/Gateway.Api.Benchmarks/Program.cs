using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Gateway.Benchmarks.Shared;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Api.Benchmarks;

/// <summary>
/// POST /calls through the gateway (a Release child process) vs the same <c>create</c> command sent straight over one
/// XMPP connection, against one private Prosody, the reference service (child process) and a sipp <c>busy</c> phone
/// (the SIP side effect of every create: one INVITE answered 486 at once, equal in both arms). See docs/benchmarks.md.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var o = BenchOptions.Parse(args);
        if (o is null) return 2;
        await using var stack = new Stack(o);
        try
        {
            await stack.StartAsync();
            await new Bench(o, stack).RunAsync();
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("benchmark failed: " + e);
            Console.Error.WriteLine("logs kept in " + stack.Directory);
            stack.KeepDirectory = true;
            return 1;
        }
    }
}

internal sealed class BenchOptions
{
    public int Requests { get; private set; } = 2000;
    public int Warmup { get; private set; } = 500;
    public int Rounds { get; private set; } = 3;
    public IReadOnlyList<int> Concurrency { get; private set; } = [1, 16, 64];
    public int PoolSize { get; private set; } = 2;
    /// <summary>Prosody's Nagle's algorithm on client sockets: on is its default (and the deploy configuration's).</summary>
    public string ProsodyNagle { get; private set; } = "on";
    public string GatewayDll { get; private set; } = "";
    public string ServiceDll { get; private set; } = "";
    public string RepositoryRoot { get; private set; } = "";
    public bool Keep { get; private set; }

    public static BenchOptions? Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            switch (args[i])
            {
                case "--requests": o.Requests = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": o.Warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rounds": o.Rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--concurrency": o.Concurrency = [.. Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                case "--pool-size": o.PoolSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--prosody-nagle" when args.Length > i + 1 && args[i + 1] is "on" or "off": o.ProsodyNagle = Next(); break;
                case "--gateway-dll": o.GatewayDll = Path.GetFullPath(Next()); break;
                case "--service-dll": o.ServiceDll = Path.GetFullPath(Next()); break;
                case "--keep": o.Keep = true; break;
                default:
                    Console.Error.WriteLine("usage: Gateway.Api.Benchmarks --gateway-dll PATH --service-dll PATH [--requests N] [--warmup N] " +
                                            "[--rounds R] [--concurrency 1,16,64] [--pool-size P] [--prosody-nagle on|off] [--keep]");
                    return null;
            }
        }
        o.RepositoryRoot = BenchmarkStack.FindRepositoryRoot();
        if (!File.Exists(o.GatewayDll) || !File.Exists(o.ServiceDll))
        {
            Console.Error.WriteLine("--gateway-dll and --service-dll must name the built Gateway.Api.dll and ActiveCalls.Service.dll");
            return null;
        }
        return o;
    }

}

/// <summary>Prosody and the gateway (<see cref="BenchmarkStack"/>), a sipp busy phone and the reference service, as child
/// processes with their output in files.</summary>
internal sealed class Stack(BenchOptions o) : IAsyncDisposable
{
    public const string Domain = BenchmarkStack.Domain;
    public const string ApiKey = BenchmarkStack.ApiKey;
    public const string Caller = "sip:carol@activecalls.test";
    public const string Callee = "sip:bob@activecalls.test";
    private readonly BenchmarkStack _stack = new(o.RepositoryRoot, "gwbench", o.Keep) { ProsodyOptions = ["--nagle", o.ProsodyNagle] };

    public string Directory => _stack.Directory;
    public bool KeepDirectory { get => _stack.KeepDirectory; set => _stack.KeepDirectory = value; }
    public int HttpPort { get; private set; }
    public Jid DirectJid { get; } = new("direct", Domain);
    public static Jid CommandsComponent => new(null, "commands.active-calls." + Domain);
    public Uri GatewayUri => new($"http://127.0.0.1:{HttpPort}");
    public string ProsodyVersion => _stack.ProsodyVersion;

    /// <summary>Process ids by role, for CPU accounting (/proc/PID/stat).</summary>
    public Dictionary<string, int> Pids => _stack.Pids;

    public async Task StartAsync()
    {
        await _stack.StartProsodyAsync("gateway", "direct");
        HttpPort = BenchmarkStack.FreeTcpPort();
        var sipPort = BenchmarkStack.FreeUdpPort();

        // The busy phone: every INVITE is answered 486 at once, so a create costs one short SIP transaction.
        Pids["sipp"] = _stack.Launch("sipp", "sipp", ["-sf", Path.Combine(o.RepositoryRoot, "deploy", "sipp", "busy.xml"), "-i", "127.0.0.1",
            "-p", BenchmarkStack.Inv(sipPort), "-nostdin", "-trace_err", "-error_file", Path.Combine(Directory, "sipp.errors.log")]);

        Pids["service"] = _stack.Launch("service", "dotnet",
        [
            o.ServiceDll, $"--ActiveCalls:Domain={Domain}", "--ActiveCalls:XmppHost=127.0.0.1", $"--ActiveCalls:ComponentPort={_stack.ComponentPort}",
            $"--ActiveCalls:ComponentSecret={_stack.ComponentSecret}",
            $"--ActiveCalls:UsersFile={Path.Combine(o.RepositoryRoot, "src", "ActiveCalls.Service", "users.dev.json")}",
            "--Sip:BindAddress=127.0.0.1", "--Sip:Port=0", $"--Sip:LocalDomains:0={Domain}",
            $"--Sip:Contacts:carol@{Domain}=127.0.0.1:{sipPort}", $"--Sip:Contacts:bob@{Domain}=127.0.0.1:{sipPort}",
            $"--ActiveCalls:Storage:DatabasePath={Path.Combine(Directory, "active-calls.db")}",
            "--Logging:LogLevel:Default=Warning",
        ], Path.GetDirectoryName(o.ServiceDll));
        // No wait here: the gateway is ready only once its subscription on the service's PubSub component is active, and
        // the harness retries a first direct create until the commands component answers.

        _stack.LaunchGateway(o.GatewayDll, GatewayUri, o.PoolSize,
        [
            // Benchmark-only limits: the per-key token bucket (20/s, burst 40) and concurrency cap (16) would otherwise
            // measure the limiter. The calls are kept as users keep them: the default SQLite store.
            "--Gateway:Http:RequestsPerSecond=100000", "--Gateway:Http:Burst=100000", "--Gateway:Http:ConcurrentRequestsPerKey=10000",
        ]);
        await _stack.WaitForGatewayReadyAsync(GatewayUri, TimeSpan.FromSeconds(90));
    }

    public XmppClient NewDirectClient() => new(new XmppClientOptions
    {
        Jid = DirectJid,
        Password = BenchmarkStack.Password,
        Host = "127.0.0.1",
        Port = _stack.C2sPort,
        Resource = "bench",
        Tls = { TrustedCertificatePath = _stack.CaCertificate },
        SendQueueCapacity = 4096,
    });

    public ValueTask DisposeAsync() => _stack.DisposeAsync();
}

/// <summary>One measured run of one arm.</summary>
internal sealed record RunResult(string Arm, int Concurrency, int Round, int Requests, int Errors, double Seconds, double P50Ms, double P99Ms,
    IReadOnlyDictionary<string, double> CpuMsPerRequest, string FirstError)
{
    public double Throughput => Requests / Seconds;
}

internal sealed class Bench(BenchOptions o, Stack stack)
{
    private static readonly double TicksPerMs = Stopwatch.Frequency / 1000.0;
    private readonly List<RunResult> _results = [];

    public async Task RunAsync()
    {
        await using var xmpp = stack.NewDirectClient();
        await xmpp.StartAsync();
        var direct = new AdHocCommandClient(xmpp);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = stack.GatewayUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Stack.ApiKey);

        Func<Task> directOnce = async () =>
        {
            var form = DataForm.Submit()
                .Add("from", Stack.Caller, FormFieldType.TextSingle)
                .Add("to", Stack.Callee, FormFieldType.TextSingle)
                .Add("call-setup-id", NextCallSetupId(), FormFieldType.TextSingle)
                .Build();
            var result = await direct.ExecuteAsync(Stack.CommandsComponent, "create", form, TimeSpan.FromSeconds(10));
            if (result.Status != CommandStatus.Completed) throw new InvalidOperationException("create answered " + result.Status);
        };
        Func<Task> gatewayOnce = async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/calls")
            {
                Content = new StringContent($$"""{"from":"{{Stack.Caller}}","to":"{{Stack.Callee}}"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            using var response = await http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Accepted)
                throw new InvalidOperationException($"POST /calls answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        };
        var arms = new (string Name, Func<Task> Once)[] { ("direct", directOnce), ("gateway", gatewayOnce) };

        var loadBefore = BenchmarkStack.LoadAverage();
        Console.Error.WriteLine($"stack up in {stack.Directory}; load average {loadBefore}");
        // Both paths answer before anything is measured (the service's components may still be handshaking).
        foreach (var (name, once) in arms) await RetryUntilOkAsync(name, once);

        foreach (var c in o.Concurrency)
        {
            foreach (var (name, once) in arms)
            {
                var warm = await MeasureAsync(name, c, 0, o.Warmup, once);
                Console.Error.WriteLine($"warm-up {name} C={c}: {warm.Throughput:F0}/s, {warm.Errors} errors");
            }
            for (var round = 1; round <= o.Rounds; round++)
            {
                // Interleaved, and the order alternates so neither arm always runs second.
                var order = round % 2 == 1 ? arms : [.. arms.Reverse()];
                foreach (var (name, once) in order)
                {
                    var r = await MeasureAsync(name, c, round, o.Requests, once);
                    _results.Add(r);
                    Console.Error.WriteLine($"C={c} round {round} {name}: {r.Throughput:F0}/s p50 {r.P50Ms:F2} ms p99 {r.P99Ms:F2} ms errors {r.Errors}" +
                                            (r.Errors > 0 ? " first: " + r.FirstError : ""));
                }
            }
        }
        Report(loadBefore, BenchmarkStack.LoadAverage());
    }

    /// <summary>Like the gateway's own: 8 random lower-case letters and digits (the service accepts exactly 8).</summary>
    private static string NextCallSetupId() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 8);

    private static async Task RetryUntilOkAsync(string name, Func<Task> once)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await once();
                return;
            }
            catch (Exception e) when (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                Console.Error.WriteLine($"{name} not ready yet: {e.Message}");
                await Task.Delay(500);
            }
        }
    }

    private async Task<RunResult> MeasureAsync(string arm, int concurrency, int round, int requests, Func<Task> once)
    {
        var latencies = new long[requests];
        var next = -1;
        var errors = 0;
        string? firstError = null;
        var cpuBefore = CpuTimes();
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                var t0 = Stopwatch.GetTimestamp();
                try
                {
                    await once();
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, e.GetType().Name + ": " + e.Message, null);
                }
                latencies[i] = Stopwatch.GetTimestamp() - t0;
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuAfter = CpuTimes();
        var cpu = cpuAfter.ToDictionary(kv => kv.Key, kv => (kv.Value - cpuBefore.GetValueOrDefault(kv.Key)) / (double)requests);
        Array.Sort(latencies);
        return new RunResult(arm, concurrency, round, requests, errors, seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), cpu,
            firstError ?? "");
    }

    private static double Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)] / TicksPerMs;

    /// <summary>CPU milliseconds (user + system) so far of each process of the stack and of this load generator.</summary>
    private Dictionary<string, double> CpuTimes()
    {
        var times = new Dictionary<string, double>();
        foreach (var (role, pid) in stack.Pids.Append(new("loadgen", Environment.ProcessId)))
        {
            try
            {
                times[role] = BenchmarkStack.CpuMs(pid);
            }
            catch (IOException)
            {
            }
        }
        return times;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }

    private void Report(string loadBefore, string loadAfter)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, Prosody {stack.ProsodyVersion}; " +
                           $"load average before {loadBefore}, after {loadAfter}");
        sb.AppendLine(inv, $"N = {o.Requests} requests per run, warm-up {o.Warmup} per arm and concurrency, {o.Rounds} interleaved rounds, " +
                           $"gateway pool size {o.PoolSize}, Prosody's Nagle {o.ProsodyNagle}; values are the median of the rounds.");
        sb.AppendLine();
        sb.AppendLine("| C | direct req/s | gateway req/s | throughput ratio (≥ 0.80) | direct p50 ms | gateway p50 ms | p50 ratio (≤ 1.5 at C = 1) | direct p99 ms | gateway p99 ms | p99 ratio (≤ 2.0) | errors d/g | target |");
        sb.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var c in o.Concurrency)
        {
            var d = _results.Where(r => r.Arm == "direct" && r.Concurrency == c).ToList();
            var g = _results.Where(r => r.Arm == "gateway" && r.Concurrency == c).ToList();
            double dt = Median(d.Select(r => r.Throughput)), gt = Median(g.Select(r => r.Throughput));
            double d50 = Median(d.Select(r => r.P50Ms)), g50 = Median(g.Select(r => r.P50Ms));
            double d99 = Median(d.Select(r => r.P99Ms)), g99 = Median(g.Select(r => r.P99Ms));
            // At C = 1 the p50 shows a latency floor (issue 15: a result waiting for the server's Nagle) that throughput hides.
            var met = gt / dt >= 0.8 && g99 / d99 <= 2.0 && (c != 1 || g50 / d50 <= 1.5);
            sb.AppendLine(inv, $"| {c} | {dt:F0} | {gt:F0} | {gt / dt:F2} | {d50:F2} | {g50:F2} | {g50 / d50:F2} | {d99:F2} | {g99:F2} | {g99 / d99:F2} | " +
                               $"{d.Sum(r => r.Errors)}/{g.Sum(r => r.Errors)} | {(met ? "met" : "**not met**")} |");
        }
        sb.AppendLine();
        sb.AppendLine("Every round (throughput req/s, p50/p99 ms):");
        sb.AppendLine();
        sb.AppendLine("| C | round | arm | req/s | p50 ms | p99 ms | errors |");
        sb.AppendLine("| ---: | ---: | --- | ---: | ---: | ---: | ---: |");
        foreach (var r in _results)
            sb.AppendLine(inv, $"| {r.Concurrency} | {r.Round} | {r.Arm} | {r.Throughput:F0} | {r.P50Ms:F2} | {r.P99Ms:F2} | {r.Errors} |");
        sb.AppendLine();
        var roles = _results.SelectMany(r => r.CpuMsPerRequest.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.AppendLine("CPU per request (ms of user+system CPU per create, median of the rounds, from /proc/PID/stat):");
        sb.AppendLine();
        sb.AppendLine("| C | arm | " + string.Join(" | ", roles) + " | total |");
        sb.AppendLine("| ---: | --- | " + string.Join(" | ", roles.Select(_ => "---:")) + " | ---: |");
        foreach (var c in o.Concurrency)
            foreach (var arm in new[] { "direct", "gateway" })
            {
                var runs = _results.Where(r => r.Arm == arm && r.Concurrency == c).ToList();
                var per = roles.Select(role => Median(runs.Select(r => r.CpuMsPerRequest.GetValueOrDefault(role)))).ToList();
                sb.AppendLine(inv, $"| {c} | {arm} | {string.Join(" | ", per.Select(v => v.ToString("F3", inv)))} | {per.Sum():F3} |");
            }
        Console.Out.Write(sb.ToString());
    }
}
