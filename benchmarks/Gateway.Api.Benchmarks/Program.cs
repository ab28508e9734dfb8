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
/// (the SIP side effect of every create: one INVITE answered 486 at once, equal in both arms). See docs/benchmarks.md;
/// the method and its caveats in full are in docs/benchmarks-archive.md.
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
    /// <summary>Per arm and concurrency, before the warm-up goes on until tier-1 compilation has settled (see
    /// <see cref="Bench"/>'s WarmUntilJitSettledAsync).</summary>
    public int Warmup { get; private set; } = 2000;
    public int Rounds { get; private set; } = 3;
    /// <summary>Each arm's run of a round is cut into this many slices, run in turn with the other arms' (the order
    /// alternating), so a drift of the machine's speed within a round (on this VM the direct arm's p50 moved from 2.0 to
    /// 3.5 ms within one run) hits every arm alike; 1 (the default) runs each arm's requests in one go.</summary>
    public int Slices { get; private set; } = 1;
    public IReadOnlyList<int> Concurrency { get; private set; } = [1, 16, 64];
    public int PoolSize { get; private set; } = 2;
    /// <summary>Prosody's Nagle's algorithm on client sockets: on is its default (and the deploy configuration's).</summary>
    public string ProsodyNagle { get; private set; } = "on";
    public string GatewayDll { get; private set; } = "";
    public string ServiceDll { get; private set; } = "";
    public string RepositoryRoot { get; private set; } = "";
    public bool Keep { get; private set; }
    /// <summary>What is measured, interleaved: <c>direct</c> and <c>embedded</c> (the gateway on its default SQLite
    /// store) unless said; <c>redis1</c>, <c>redis2</c> add one and two replicas on one redis-server, each optionally with
    /// <c>-everysec</c> or <c>-always</c> (the AOF fsync policy set on that server before each of its runs).</summary>
    public IReadOnlyList<Arm> Arms { get; private set; } = [Arm.Parse("direct"), Arm.Parse("embedded")];
    /// <summary>The AOF fsync policy of a Redis arm without a suffix: <c>always</c> (what production is advised) unless said.</summary>
    public string RedisAppendFsync { get; private set; } = "always";
    /// <summary>Before each run, and before its CPU and Redis counts are read, wait until the stack is idle (the run's
    /// notifications applied): off unless said, as the harness always ran.</summary>
    public bool Settle { get; private set; }

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
                case "--slices": o.Slices = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--concurrency": o.Concurrency = [.. Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                case "--pool-size": o.PoolSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--prosody-nagle" when args.Length > i + 1 && args[i + 1] is "on" or "off": o.ProsodyNagle = Next(); break;
                case "--gateway-dll": o.GatewayDll = Path.GetFullPath(Next()); break;
                case "--service-dll": o.ServiceDll = Path.GetFullPath(Next()); break;
                case "--keep": o.Keep = true; break;
                case "--arms":
                    try
                    {
                        o.Arms = [.. Next().Split(',').Select(Arm.Parse)];
                    }
                    catch (ArgumentException e)
                    {
                        Console.Error.WriteLine(e.Message);
                        return null;
                    }
                    break;
                case "--redis-appendfsync" when args.Length > i + 1 && args[i + 1] is "always" or "everysec": o.RedisAppendFsync = Next(); break;
                case "--settle" when args.Length > i + 1 && args[i + 1] is "on" or "off": o.Settle = Next() == "on"; break;
                default:
                    Console.Error.WriteLine("usage: Gateway.Api.Benchmarks --gateway-dll PATH --service-dll PATH [--requests N] [--warmup N] " +
                                            "[--rounds R] [--slices S] [--concurrency 1,16,64] [--pool-size P] [--prosody-nagle on|off] " +
                                            "[--arms direct,embedded,redis1,redis2[,redis1-everysec,redis2-everysec]] [--redis-appendfsync always|everysec] [--settle on|off] [--keep]");
                    return null;
            }
        }
        if (o.Arms.Count == 0 || o.Arms.Select(a => a.Name).Distinct().Count() != o.Arms.Count)
        {
            Console.Error.WriteLine("--arms must name each arm once");
            return null;
        }
        o.Arms = [.. o.Arms.Select(a => a.Redis && a.AppendFsync is null ? a with { AppendFsync = o.RedisAppendFsync } : a)];
        o.RepositoryRoot = BenchmarkStack.FindRepositoryRoot();
        if (!File.Exists(o.GatewayDll) || !File.Exists(o.ServiceDll))
        {
            Console.Error.WriteLine("--gateway-dll and --service-dll must name the built Gateway.Api.dll and ActiveCalls.Service.dll");
            return null;
        }
        return o;
    }

}

/// <summary>One arm: how its requests are sent and which processes are its own (their CPU is its cost; the other arms'
/// processes idle meanwhile).</summary>
internal sealed record Arm(string Name, string Kind, int Replicas, string? AppendFsync)
{
    public bool Redis => Kind == "redis";

    /// <summary><c>direct</c>, <c>embedded</c> (or <c>gateway</c>, today's name), <c>redis1</c>, <c>redis2</c>, a Redis arm
    /// optionally suffixed <c>-always</c> or <c>-everysec</c>.</summary>
    public static Arm Parse(string text)
    {
        var name = text.Trim();
        var dash = name.IndexOf('-', StringComparison.Ordinal);
        var (baseName, fsync) = dash < 0 ? (name, (string?)null) : (name[..dash], name[(dash + 1)..]);
        if (fsync is not (null or "always" or "everysec")) throw new ArgumentException($"unknown arm '{text}'");
        return baseName switch
        {
            "direct" when fsync is null => new Arm("direct", "direct", 0, null),
            "embedded" or "gateway" when fsync is null => new Arm("embedded", "embedded", 1, null),
            "redis1" => new Arm(name, "redis", 1, fsync),
            "redis2" => new Arm(name, "redis", 2, fsync),
            _ => throw new ArgumentException($"unknown arm '{text}' (direct, embedded, redis1, redis2, redis1-everysec, redis2-everysec)"),
        };
    }

    /// <summary>The gateway processes' roles (log names and <see cref="Stack.Pids"/> keys) of this arm.</summary>
    public IReadOnlyList<string> GatewayRoles => Kind switch
    {
        "embedded" => ["gateway"],
        "redis" when Replicas == 1 => ["gateway-r1"],
        "redis" => ["gateway-r2a", "gateway-r2b"],
        _ => [],
    };

    /// <summary>The create's <c>from</c>: a user only this arm's deployment follows (the direct arm's carol is the embedded
    /// gateway's, as it always was), so no deployment ingests the notifications of another arm's calls.</summary>
    public string Caller => Kind != "redis" ? Stack.Caller : Replicas == 1 ? Stack.Redis1Caller : Stack.Redis2Caller;

    /// <summary>The processes this arm alone runs on: its gateways, and redis-server for a Redis arm.</summary>
    public IReadOnlyList<string> OwnRoles => Redis ? [.. GatewayRoles, "redis-server"] : GatewayRoles;
}

/// <summary>Prosody and the gateway (<see cref="BenchmarkStack"/>), a sipp busy phone and the reference service, as child
/// processes with their output in files.</summary>
internal sealed class Stack(BenchOptions o) : IAsyncDisposable
{
    public const string Domain = BenchmarkStack.Domain;
    public const string ApiKey = BenchmarkStack.ApiKey;
    public const string Caller = "sip:carol@activecalls.test";
    public const string Callee = "sip:bob@activecalls.test";
    /// <summary>The callers of the Redis arms, each the user that deployment alone follows (another owner than carol's
    /// demo group, so auth-for-all does not share them), both bound to the busy phone.</summary>
    public const string Redis1Caller = "sip:dave@sales.activecalls.test";
    public const string Redis2Caller = "sip:frank@activecalls.test";
    private readonly BenchmarkStack _stack = new(o.RepositoryRoot, "gwbench", o.Keep) { ProsodyOptions = ["--nagle", o.ProsodyNagle] };

    public string Directory => _stack.Directory;
    public bool KeepDirectory { get => _stack.KeepDirectory; set => _stack.KeepDirectory = value; }
    public Jid DirectJid { get; } = new("direct", Domain);
    public static Jid CommandsComponent => new(null, "commands.active-calls." + Domain);
    public string ProsodyVersion => _stack.ProsodyVersion;
    public string RedisVersion { get; private set; } = "";
    public int RedisPort { get; private set; }

    /// <summary>Each gateway process's base address, by role (see <see cref="Arm.GatewayRoles"/>).</summary>
    public Dictionary<string, Uri> GatewayUris { get; } = [];

    /// <summary>Process ids by role, for CPU accounting (/proc/PID/stat).</summary>
    public Dictionary<string, int> Pids => _stack.Pids;

    public async Task StartAsync()
    {
        // One XMPP account per deployment: a replicated gateway removes the other subscriptions of its account's node
        // (they are its own replicas' leftovers), so two deployments on one account would unsubscribe each other.
        var redis1 = o.Arms.Any(a => a.Redis && a.Replicas == 1);
        var redis2 = o.Arms.Any(a => a.Redis && a.Replicas == 2);
        await _stack.StartProsodyAsync(["gateway", "direct", .. redis1 ? ["gwr1"] : Array.Empty<string>(), .. redis2 ? ["gwr2"] : Array.Empty<string>()]);
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
            $"--Sip:LocalDomains:1=sales.{Domain}", $"--Sip:Contacts:dave@sales.{Domain}=127.0.0.1:{sipPort}",
            $"--Sip:Contacts:frank@{Domain}=127.0.0.1:{sipPort}",
            $"--ActiveCalls:Storage:DatabasePath={Path.Combine(Directory, "active-calls.db")}",
            "--Logging:LogLevel:Default=Warning",
        ], Path.GetDirectoryName(o.ServiceDll));
        // No wait here: the gateway is ready only once its subscription on the service's PubSub component is active, and
        // the harness retries a first direct create until the commands component answers.

        // Benchmark-only limits: the per-key token bucket (20/s, burst 40) and concurrency cap (16) would otherwise
        // measure the limiter.
        string[] limits = ["--Gateway:Http:RequestsPerSecond=100000", "--Gateway:Http:Burst=100000", "--Gateway:Http:ConcurrentRequestsPerKey=10000"];
        // The embedded gateway runs in every run, as it always has (the direct arm's baseline was measured beside it): the
        // calls kept as users keep them by default, in SQLite.
        LaunchGateway("gateway", "gateway", "bench", limits);
        if (redis1 || redis2) await StartRedisAsync();
        // The Redis deployments: one key prefix each on the one redis-server, a distinct InstanceName per replica.
        // Each follows its own caller (see Arm.Caller), and calls from that very address: a standby replica knows a
        // followed user's own address, but not the other addresses auth-for-all gives it (only the subscription holder
        // authorises), so a create from carol under alice's auth-for-all is refused on a standby with 422 from-not-followed.
        string[] Redis(string prefix, string follows, string password) =>
        [
            .. limits, "--Gateway:Calls:Store=Redis", $"--Gateway:Redis:Configuration=127.0.0.1:{BenchmarkStack.Inv(RedisPort)}",
            $"--Gateway:Redis:KeyPrefix={prefix}", $"--Gateway:Events:SipAddress={follows}", $"--Gateway:Events:Password={password}",
        ];
        if (redis1) LaunchGateway("gateway-r1", "gwr1", "r1", Redis("bench-r1:", $"dave@sales.{Domain}", "dave-dev-password"));
        if (redis2)
        {
            LaunchGateway("gateway-r2a", "gwr2", "r2a", Redis("bench-r2:", $"frank@{Domain}", "frank-dev-password"));
            LaunchGateway("gateway-r2b", "gwr2", "r2b", Redis("bench-r2:", $"frank@{Domain}", "frank-dev-password"));
        }
        // Every replica is ready, the standby too (it serves the whole API; events reach it through the shared log).
        await Task.WhenAll(GatewayUris.Values.Select(uri => _stack.WaitForGatewayReadyAsync(uri, TimeSpan.FromSeconds(180))));
    }

    private void LaunchGateway(string role, string account, string instanceName, IEnumerable<string> extra)
    {
        var uri = new Uri($"http://127.0.0.1:{BenchmarkStack.FreeTcpPort()}");
        GatewayUris[role] = uri;
        _stack.LaunchGateway(o.GatewayDll, uri, o.PoolSize, extra, role, account, instanceName);
    }

    /// <summary>redis-server as production is advised to run it (AOF on, fsync on every write, no RDB snapshots), on a
    /// free port with its files in this run's folder.</summary>
    private async Task StartRedisAsync()
    {
        RedisPort = BenchmarkStack.FreeTcpPort();
        var dir = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "redis")).FullName;
        Pids["redis-server"] = _stack.Launch("redis-server", "redis-server",
        [
            "--port", BenchmarkStack.Inv(RedisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", o.RedisAppendFsync,
            "--dir", dir,
        ]);
        await _stack.WaitAsync("redis-server", TimeSpan.FromSeconds(30), async () =>
        {
            try
            {
                return (await RedisCliAsync("PING")).Trim() == "PONG";
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        });
        RedisVersion = (await BenchmarkStack.RunAsync("redis-server", ["--version"])).Trim();
    }

    /// <summary>One redis-cli command against this run's redis-server; its raw reply.</summary>
    public Task<string> RedisCliAsync(params string[] command) =>
        BenchmarkStack.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", BenchmarkStack.Inv(RedisPort), .. command]);

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

/// <summary>One measured run of one arm. <paramref name="RedisCallsPerRequest"/>: redis-server's commands per create by
/// name (INFO commandstats: the client's commands and those its scripts ran); <paramref name="RedisBytesPerRequest"/>:
/// its used_memory growth per create. Both empty / NaN without a Redis arm.</summary>
internal sealed record RunResult(string Arm, int Concurrency, int Round, int Requests, int Errors, double Seconds, double P50Ms, double P99Ms,
    IReadOnlyDictionary<string, double> CpuMsPerRequest, string FirstError, string LoadAverage,
    IReadOnlyDictionary<string, double> RedisCallsPerRequest, double RedisBytesPerRequest)
{
    private static readonly double TicksPerMs = Stopwatch.Frequency / 1000.0;

    public double Throughput => Requests / Seconds;

    /// <summary>Every request's latency (Stopwatch ticks), sorted.</summary>
    public required long[] Latencies { get; init; }

    /// <summary>The slices of one arm's run as one run: the requests, errors and time added up, the percentiles over
    /// every request, the per-request counts weighted by the slices' requests.</summary>
    public static RunResult Merge(IReadOnlyList<RunResult> slices)
    {
        if (slices.Count == 1) return slices[0];
        var requests = slices.Sum(s => s.Requests);
        var latencies = slices.SelectMany(s => s.Latencies).Order().ToArray();
        Dictionary<string, double> Weighted(Func<RunResult, IReadOnlyDictionary<string, double>> of) =>
            slices.SelectMany(s => of(s).Select(kv => (kv.Key, Value: kv.Value * s.Requests)))
                .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value) / Math.Max(1, requests));
        var first = slices[0];
        return new RunResult(first.Arm, first.Concurrency, first.Round, requests, slices.Sum(s => s.Errors), slices.Sum(s => s.Seconds),
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), Weighted(s => s.CpuMsPerRequest),
            slices.Select(s => s.FirstError).FirstOrDefault(e => e.Length > 0) ?? "", first.LoadAverage, Weighted(s => s.RedisCallsPerRequest),
            slices.Sum(s => s.RedisBytesPerRequest * s.Requests) / Math.Max(1, requests))
        {
            Latencies = latencies,
        };
    }

    public static double Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)] / TicksPerMs;
}

internal sealed class Bench(BenchOptions o, Stack stack)
{
    /// <summary>The processes every arm runs on (the load generator included).</summary>
    private static readonly string[] SharedRoles = ["prosody", "service", "sipp", "loadgen"];
    private readonly List<RunResult> _results = [];
    private string? _appendFsync;

    public async Task RunAsync()
    {
        await using var xmpp = stack.NewDirectClient();
        await xmpp.StartAsync();
        var direct = new AdHocCommandClient(xmpp);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        var clients = stack.GatewayUris.ToDictionary(kv => kv.Key, kv =>
        {
            var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = kv.Value, Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Stack.ApiKey);
            return http;
        });

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
        // A gateway arm with several replicas: its requests go round-robin to each replica's own URL (the load generator
        // spreads them; no load balancer in between).
        Func<Task> GatewayOnce(IReadOnlyList<HttpClient> replicas, string caller)
        {
            var next = -1;
            var body = $$"""{"from":"{{caller}}","to":"{{Stack.Callee}}"}""";
            return async () =>
            {
                var http = replicas[(int)((uint)Interlocked.Increment(ref next) % (uint)replicas.Count)];
                using var request = new HttpRequestMessage(HttpMethod.Post, "/calls")
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
                using var response = await http.SendAsync(request);
                if (response.StatusCode != HttpStatusCode.Accepted)
                    throw new InvalidOperationException($"POST /calls answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            };
        }
        var arms = o.Arms.Select(a => (Arm: a, Once: a.Kind == "direct" ? directOnce : GatewayOnce([.. a.GatewayRoles.Select(r => clients[r])], a.Caller))).ToArray();

        try
        {
            var loadBefore = BenchmarkStack.LoadAverage();
            Console.Error.WriteLine($"stack up in {stack.Directory}; arms {string.Join(", ", o.Arms.Select(a => a.Name))}; load average {loadBefore}");
            // Every path answers before anything is measured (the service's components may still be handshaking).
            foreach (var (arm, once) in arms)
            {
                await SetAppendFsyncAsync(arm);
                await RetryUntilOkAsync(arm.Name, once);
            }

            foreach (var c in o.Concurrency)
            {
                foreach (var (arm, once) in arms)
                {
                    var warm = await MeasureAsync(arm, c, 0, o.Warmup, once);
                    Console.Error.WriteLine($"warm-up {arm.Name} C={c}: {warm.Throughput:F0}/s, {warm.Errors} errors");
                    await WarmUntilJitSettledAsync(arm, c, once);
                }
                for (var round = 1; round <= o.Rounds; round++)
                {
                    var slices = arms.ToDictionary(a => a.Arm.Name, _ => new List<RunResult>());
                    for (var slice = 0; slice < o.Slices; slice++)
                    {
                        // Interleaved, and the order alternates so no arm always runs first or last.
                        var order = (round * o.Slices + slice) % 2 == 1 ? arms : [.. arms.Reverse()];
                        var size = o.Requests / o.Slices + (slice < o.Requests % o.Slices ? 1 : 0);
                        foreach (var (arm, once) in order) slices[arm.Name].Add(await MeasureAsync(arm, c, round, size, once));
                    }
                    foreach (var (arm, _) in arms)
                    {
                        var r = RunResult.Merge(slices[arm.Name]);
                        _results.Add(r);
                        Console.Error.WriteLine($"C={c} round {round} {arm.Name}: {r.Throughput:F0}/s p50 {r.P50Ms:F2} ms p99 {r.P99Ms:F2} ms errors {r.Errors}" +
                                                $" (load {r.LoadAverage})" + (r.Errors > 0 ? " first: " + r.FirstError : ""));
                    }
                }
            }
            Report(loadBefore, BenchmarkStack.LoadAverage());
        }
        finally
        {
            foreach (var http in clients.Values) http.Dispose();
        }
    }

    /// <summary>
    /// Goes on warming <paramref name="arm"/> in chunks of at least two seconds until no .NET process of the stack spends
    /// more than 1 % of a core in tier-1 compilation (<see cref="BenchmarkStack.TieringCpuMs"/>), 120 s at most. A count
    /// alone is not enough: the runtime promotes methods in the background, and on 2 busy cores the backlog of the gateway's
    /// ~5,000 hot methods outlasted 3,000 creates at C = 16 (21 % of the gateway's CPU samples in the measured window, and
    /// 1.65 instead of 1.16 ms of its CPU per create).
    /// </summary>
    private async Task WarmUntilJitSettledAsync(Arm arm, int concurrency, Func<Task> once)
    {
        var watch = Stopwatch.StartNew();
        var chunk = Math.Max(200, 50 * concurrency);
        while (true)
        {
            var before = TieringCpu();
            var chunkWatch = Stopwatch.StartNew();
            do await MeasureAsync(arm, concurrency, 0, chunk, once);
            while (chunkWatch.Elapsed < TimeSpan.FromSeconds(2));
            var share = TieringCpu().Sum(t => t.Value - before.GetValueOrDefault(t.Key)) / chunkWatch.Elapsed.TotalMilliseconds;
            if (share < 0.01)
            {
                Console.Error.WriteLine($"warm-up {arm.Name} C={concurrency}: tier-1 compilation settled ({share:P1} of a core)");
                return;
            }
            if (watch.Elapsed > TimeSpan.FromSeconds(120))
            {
                Console.Error.WriteLine($"warm-up {arm.Name} C={concurrency}: tier-1 compilation still at {share:P0} of a core after 120 s more; measuring anyway");
                return;
            }
            Console.Error.WriteLine($"warm-up {arm.Name} C={concurrency}: tier-1 compilation at {share:P0} of a core; warming on");
        }
    }

    private Dictionary<(int Pid, int Tid), double> TieringCpu() =>
        stack.Pids.Values.Append(Environment.ProcessId).SelectMany(BenchmarkStack.TieringCpuMs).ToDictionary();

    /// <summary>A Redis arm runs with its fsync policy: set on the one redis-server (CONFIG SET) when it differs.</summary>
    private async Task SetAppendFsyncAsync(Arm arm)
    {
        if (!arm.Redis || arm.AppendFsync == (_appendFsync ?? o.RedisAppendFsync)) return;
        var reply = (await stack.RedisCliAsync("CONFIG", "SET", "appendfsync", arm.AppendFsync!)).Trim();
        if (reply != "OK") throw new InvalidOperationException("CONFIG SET appendfsync answered " + reply);
        _appendFsync = arm.AppendFsync;
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
            catch (Exception e) when (watch.Elapsed < TimeSpan.FromSeconds(60))
            {
                Console.Error.WriteLine($"{name} not ready yet: {e.Message}");
                await Task.Delay(500);
            }
        }
    }

    private async Task<RunResult> MeasureAsync(Arm arm, int concurrency, int round, int requests, Func<Task> once)
    {
        await SetAppendFsyncAsync(arm);
        if (o.Settle) await SettleAsync(arm, concurrency, round);
        var load = BenchmarkStack.LoadAverage();
        var redisBefore = await RedisStatsAsync();
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
        // Settling: the CPU and Redis counts take in what the run left to do after its last answer (the notifications of
        // its calls), so they are a create's whole cost; the wall time ends at the last answer.
        if (o.Settle) await SettleAsync(arm, concurrency, round);
        var cpuAfter = CpuTimes();
        var redisAfter = await RedisStatsAsync();
        var cpu = cpuAfter.ToDictionary(kv => kv.Key, kv => (kv.Value - cpuBefore.GetValueOrDefault(kv.Key)) / (double)Math.Max(1, requests));
        var redisCalls = redisAfter is null || redisBefore is null ? new Dictionary<string, double>()
            : redisAfter.Value.Calls.Where(kv => kv.Value > redisBefore.Value.Calls.GetValueOrDefault(kv.Key))
                .ToDictionary(kv => kv.Key, kv => (kv.Value - redisBefore.Value.Calls.GetValueOrDefault(kv.Key)) / (double)Math.Max(1, requests));
        var redisBytes = redisAfter is null || redisBefore is null ? double.NaN
            : (redisAfter.Value.UsedMemory - redisBefore.Value.UsedMemory) / (double)Math.Max(1, requests);
        Array.Sort(latencies);
        return new RunResult(arm.Name, concurrency, round, requests, errors, seconds, RunResult.Percentile(latencies, 0.50),
            RunResult.Percentile(latencies, 0.99), cpu, firstError ?? "", load, redisCalls, redisBytes)
        {
            Latencies = latencies,
        };
    }

    /// <summary>Waits (10 s at most) until the stack's processes (the load generator aside) used under 10% of one core
    /// over half a second: a subscription holder applies a run's notifications after the 202s, and at high load it is
    /// still at it when the run ends, which would otherwise put that work in the next arm's window.</summary>
    private async Task SettleAsync(Arm arm, int concurrency, int round)
    {
        var watch = Stopwatch.StartNew();
        var window = TimeSpan.FromMilliseconds(500);
        while (watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            var before = CpuTimes();
            await Task.Delay(window);
            var used = CpuTimes().Where(kv => kv.Key != "loadgen").Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
            if (used < 0.1 * window.TotalMilliseconds) return;
        }
        Console.Error.WriteLine($"{arm.Name} C={concurrency} round {round}: the stack was still busy after 10 s; measuring anyway");
    }

    /// <summary>redis-server's command counts so far (INFO commandstats, by lower-case name) and used_memory, when a
    /// Redis arm runs; read outside the timed window (it is a redis-cli process).</summary>
    private async Task<(Dictionary<string, long> Calls, long UsedMemory)?> RedisStatsAsync()
    {
        if (stack.RedisPort == 0) return null;
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        long usedMemory = 0;
        foreach (var line in (await stack.RedisCliAsync("INFO", "all")).Split('\n'))
        {
            var text = line.Trim();
            if (text.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                // cmdstat_evalsha:calls=12,usec=…
                var colon = text.IndexOf(':', StringComparison.Ordinal);
                var value = text[(colon + 1)..].Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal))["calls=".Length..];
                calls[text["cmdstat_".Length..colon]] = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (text.StartsWith("used_memory:", StringComparison.Ordinal))
            {
                usedMemory = long.Parse(text["used_memory:".Length..], CultureInfo.InvariantCulture);
            }
        }
        return (calls, usedMemory);
    }

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
        var redisVersion = stack.RedisVersion.Length > 0 ? ", " + stack.RedisVersion : "";
        sb.AppendLine(inv, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, Prosody {stack.ProsodyVersion}{redisVersion}; " +
                           $"load average before {loadBefore}, after {loadAfter}");
        var settled = o.Settle ? ", the stack settled (under 10% of a core for 0.5 s) before each run and before its CPU and Redis counts were read (wall time ends at the last answer)" : "";
        var sliced = o.Slices > 1 ? $" (each arm's run in {o.Slices} slices taking turns with the other arms')" : "";
        sb.AppendLine(inv, $"N = {o.Requests} requests per run, warm-up {o.Warmup} per arm and concurrency, {o.Rounds} interleaved rounds{sliced}, " +
                           $"gateway pool size {o.PoolSize}, Prosody's Nagle {o.ProsodyNagle}{settled}; values are the median of the rounds.");
        var names = o.Arms.Select(a => a.Name).ToList();
        var hasDirect = names.Contains("direct");
        var hasEmbedded = names.Contains("embedded");
        if (o.Arms.Any(a => a.Redis))
            sb.AppendLine(inv, $"Arms: {string.Join(", ", o.Arms.Select(Describe))}. Replicas' requests go round-robin to each replica's own URL " +
                               $"(the load generator spreads them; no load balancer).");
        sb.AppendLine();
        List<RunResult> Runs(string arm, int c) => [.. _results.Where(r => r.Arm == arm && r.Concurrency == c)];

        if (hasDirect && hasEmbedded)
        {
            // Issue 5's table, as it has always been: the gateway here is the embedded arm.
            sb.AppendLine("| C | direct req/s | gateway req/s | throughput ratio (≥ 0.80) | direct p50 ms | gateway p50 ms | p50 ratio (≤ 1.5 at C = 1) | direct p99 ms | gateway p99 ms | p99 ratio (≤ 2.0) | errors d/g | target |");
            sb.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
            foreach (var c in o.Concurrency)
            {
                var d = Runs("direct", c);
                var g = Runs("embedded", c);
                double dt = Median(d.Select(r => r.Throughput)), gt = Median(g.Select(r => r.Throughput));
                double d50 = Median(d.Select(r => r.P50Ms)), g50 = Median(g.Select(r => r.P50Ms));
                double d99 = Median(d.Select(r => r.P99Ms)), g99 = Median(g.Select(r => r.P99Ms));
                // At C = 1 the p50 shows a latency floor (issue 15: a result waiting for the server's Nagle) that throughput hides.
                var met = gt / dt >= 0.8 && g99 / d99 <= 2.0 && (c != 1 || g50 / d50 <= 1.5);
                sb.AppendLine(inv, $"| {c} | {dt:F0} | {gt:F0} | {gt / dt:F2} | {d50:F2} | {g50:F2} | {g50 / d50:F2} | {d99:F2} | {g99:F2} | {g99 / d99:F2} | " +
                                   $"{d.Sum(r => r.Errors)}/{g.Sum(r => r.Errors)} | {(met ? "met" : "**not met**")} |");
            }
            sb.AppendLine();
        }

        if (!(names.Count == 2 && hasDirect && hasEmbedded))
        {
            // Every arm against the direct arm and the embedded arm; CPU per create of its own processes.
            sb.AppendLine("Per arm (median of the rounds; ÷ direct and ÷ embedded are ratios of the medians; CPU in ms per create, from /proc/PID/stat):");
            sb.AppendLine();
            sb.AppendLine("| C | arm | req/s | p50 ms | p99 ms | errors | req/s ÷ direct | p50 ÷ direct | p99 ÷ direct | req/s ÷ embedded | p50 ÷ embedded | p99 ÷ embedded | gateway CPU | redis-server CPU | arm CPU (shared + own) |");
            sb.AppendLine("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var c in o.Concurrency)
            {
                var d = Runs("direct", c);
                var e = Runs("embedded", c);
                foreach (var arm in o.Arms)
                {
                    var runs = Runs(arm.Name, c);
                    double t = Median(runs.Select(r => r.Throughput)), p50 = Median(runs.Select(r => r.P50Ms)), p99 = Median(runs.Select(r => r.P99Ms));
                    string Ratio(List<RunResult> other, Func<RunResult, double> pick, double mine) =>
                        other.Count == 0 ? "–" : (mine / Median(other.Select(pick))).ToString("F2", inv);
                    double Cpu(string role) => Median(runs.Select(r => r.CpuMsPerRequest.GetValueOrDefault(role)));
                    var gatewayCpu = arm.GatewayRoles.Count == 0 ? "–" : string.Join(" + ", arm.GatewayRoles.Select(r => Cpu(r).ToString("F2", inv)));
                    var redisCpu = arm.Redis ? Cpu("redis-server").ToString("F2", inv) : "–";
                    var armCpu = SharedRoles.Concat(arm.OwnRoles).Sum(Cpu);
                    sb.AppendLine(inv, $"| {c} | {arm.Name} | {t:F0} | {p50:F2} | {p99:F2} | {runs.Sum(r => r.Errors)} | " +
                                       $"{Ratio(d, r => r.Throughput, t)} | {Ratio(d, r => r.P50Ms, p50)} | {Ratio(d, r => r.P99Ms, p99)} | " +
                                       $"{Ratio(e, r => r.Throughput, t)} | {Ratio(e, r => r.P50Ms, p50)} | {Ratio(e, r => r.P99Ms, p99)} | " +
                                       $"{gatewayCpu} | {redisCpu} | {armCpu:F2} |");
                }
            }
            sb.AppendLine();
        }

        sb.AppendLine("Every round (throughput req/s, p50/p99 ms, 1/5/15-min load average at its start):");
        sb.AppendLine();
        sb.AppendLine("| C | round | arm | req/s | p50 ms | p99 ms | errors | load |");
        sb.AppendLine("| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in _results)
            sb.AppendLine(inv, $"| {r.Concurrency} | {r.Round} | {(r.Arm == "embedded" && !o.Arms.Any(a => a.Redis) ? "gateway" : r.Arm)} | {r.Throughput:F0} | " +
                               $"{r.P50Ms:F2} | {r.P99Ms:F2} | {r.Errors} | {r.LoadAverage} |");
        sb.AppendLine();
        var roles = _results.SelectMany(r => r.CpuMsPerRequest.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.AppendLine("CPU per request (ms of user+system CPU per create, median of the rounds, from /proc/PID/stat; every process, the other " +
                      "arms' idle ones included; arm total: the shared processes and the arm's own):");
        sb.AppendLine();
        sb.AppendLine("| C | arm | " + string.Join(" | ", roles) + " | total | arm total |");
        sb.AppendLine("| ---: | --- | " + string.Join(" | ", roles.Select(_ => "---:")) + " | ---: | ---: |");
        foreach (var c in o.Concurrency)
            foreach (var arm in o.Arms)
            {
                var runs = Runs(arm.Name, c);
                var per = roles.Select(role => Median(runs.Select(r => r.CpuMsPerRequest.GetValueOrDefault(role)))).ToList();
                var own = roles.Select((role, i) => SharedRoles.Contains(role) || arm.OwnRoles.Contains(role) ? per[i] : 0).Sum();
                sb.AppendLine(inv, $"| {c} | {(arm.Name == "embedded" && !o.Arms.Any(a => a.Redis) ? "gateway" : arm.Name)} | " +
                                   $"{string.Join(" | ", per.Select(v => v.ToString("F3", inv)))} | {per.Sum():F3} | {own:F3} |");
            }

        if (o.Arms.Any(a => a.Redis))
        {
            sb.AppendLine();
            sb.AppendLine("redis-server per create (median of the rounds): commands by name from INFO commandstats (a script's EVALSHA and " +
                          "the commands it ran are each counted; the idle arms' lease renewals and log polls are in every arm), and used_memory growth:");
            sb.AppendLine();
            sb.AppendLine("| C | arm | commands per create | of which EVALSHA (round trips with a script) | all commands | used_memory bytes per create |");
            sb.AppendLine("| ---: | --- | --- | ---: | ---: | ---: |");
            foreach (var c in o.Concurrency)
                foreach (var arm in o.Arms)
                {
                    var runs = Runs(arm.Name, c);
                    var commands = runs.SelectMany(r => r.RedisCallsPerRequest.Keys).Distinct()
                        .Select(k => (Name: k, PerCreate: Median(runs.Select(r => r.RedisCallsPerRequest.GetValueOrDefault(k)))))
                        .Where(x => x.PerCreate >= 0.005).OrderByDescending(x => x.PerCreate).ToList();
                    var evalsha = commands.Where(x => x.Name is "evalsha" or "eval").Sum(x => x.PerCreate);
                    sb.AppendLine(inv, $"| {c} | {arm.Name} | {string.Join(", ", commands.Select(x => $"{x.Name} {x.PerCreate.ToString("F2", inv)}"))} | " +
                                       $"{evalsha:F2} | {commands.Sum(x => x.PerCreate):F2} | {Median(runs.Select(r => r.RedisBytesPerRequest)):F0} |");
                }
        }
        Console.Out.Write(sb.ToString());
    }

    private static string Describe(Arm arm) => arm.Kind switch
    {
        "direct" => "direct (create over one XMPP connection)",
        "embedded" => "embedded (one gateway, SQLite)",
        _ => $"{arm.Name} ({arm.Replicas} replica{(arm.Replicas == 1 ? "" : "s")} on Redis, appendfsync {arm.AppendFsync})",
    };
}
