using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Benchmarks.Shared;

/// <summary>
/// What the gateway benchmarks run against, as child processes in a temp directory with their output in files: a
/// private Prosody (deploy/prosody/start.sh on free ports, accounts registered), and the gateway (a Release build of
/// Gateway.Api on Kestrel) configured for it. Everything is killed, Prosody stopped and the directory removed on dispose
/// (kept with <see cref="KeepDirectory"/>).
/// </summary>
internal sealed class BenchmarkStack(string repositoryRoot, string name, bool keep) : IAsyncDisposable
{
    public const string Domain = "activecalls.test";
    public const string ApiKey = "dev-gateway-key";
    public const string Password = "bench-password-1";
    private readonly List<Process> _children = [];

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), name + "-" + Guid.NewGuid().ToString("N")[..10]);
    public bool KeepDirectory { get; set; } = keep;
    public string RepositoryRoot { get; } = repositoryRoot;
    public int C2sPort { get; private set; }
    public int ComponentPort { get; private set; }
    public string ComponentSecret { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public string CaCertificate => Path.Combine(Directory, "prosody", "ca", "ca.crt");
    public string ProsodyVersion { get; private set; } = "?";

    /// <summary>Process ids by role, for CPU and memory readings (/proc/PID/…).</summary>
    public Dictionary<string, int> Pids { get; } = [];

    /// <summary>More <c>deploy/prosody/start.sh</c> options, e.g. <c>--nagle off</c>.</summary>
    public IReadOnlyList<string> ProsodyOptions { get; set; } = [];

    public static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        throw new InvalidOperationException("Gateway.sln not found above the current or the program directory");
    }

    /// <summary>Starts Prosody for <see cref="Domain"/> (warnings only in its log) and registers <paramref name="users"/>
    /// with <see cref="Password"/>.</summary>
    public async Task StartProsodyAsync(params string[] users)
    {
        System.IO.Directory.CreateDirectory(Directory);
        (C2sPort, ComponentPort) = (FreeTcpPort(), FreeTcpPort());
        var prosodyDir = Path.Combine(Directory, "prosody");
        await RunAsync("bash", [Script("prosody/start.sh"), "--dir", prosodyDir, "--domain", Domain, "--c2s-port", Inv(C2sPort),
            "--component-port", Inv(ComponentPort), "--secret", ComponentSecret, "--log-level", "warn", "--watch-pid", Inv(Environment.ProcessId), .. ProsodyOptions]);
        Pids["prosody"] = int.Parse(File.ReadAllText(Path.Combine(prosodyDir, "prosody.pid")).Trim(), CultureInfo.InvariantCulture);
        foreach (var user in users)
            await RunAsync("bash", [Script("prosody/register.sh"), user, Domain, Password, "--dir", prosodyDir]);
        ProsodyVersion = (await RunAsync("dpkg-query", ["-W", "-f=${Version}", "prosody"])).Trim();
    }

    /// <summary>Starts the gateway as <c>{account}@</c><see cref="Domain"/> on <paramref name="gateway"/>, following alice's calls,
    /// with the key <see cref="ApiKey"/> (scope *) and warnings-only logs; <paramref name="extra"/> adds or overrides settings.
    /// <paramref name="role"/> names its log and its entry in <see cref="Pids"/>; a role other than <c>gateway</c> keeps its
    /// databases in a folder of its own (several gateways in one run).</summary>
    public int LaunchGateway(string gatewayDll, Uri gateway, int poolSize, IEnumerable<string> extra, string role = "gateway",
        string account = "gateway", string instanceName = "bench")
    {
        var apiKeyHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)));
        var dataDirectory = role == "gateway" ? Directory : System.IO.Directory.CreateDirectory(Path.Combine(Directory, role)).FullName;
        var pid = Launch(role, "dotnet",
        [
            gatewayDll, "--urls", gateway.ToString().TrimEnd('/'),
            $"--Gateway:Xmpp:Jid={account}@{Domain}", $"--Gateway:Xmpp:Password={Password}", "--Gateway:Xmpp:Host=127.0.0.1",
            $"--Gateway:Xmpp:Port={C2sPort}", $"--Gateway:Xmpp:TrustedCertificatePath={CaCertificate}",
            $"--Gateway:Xmpp:PoolSize={poolSize}", $"--Gateway:Xmpp:InstanceName={instanceName}",
            $"--Gateway:Components:Commands=commands.active-calls.{Domain}",
            $"--Gateway:Events:SipAddress=alice@{Domain}", "--Gateway:Events:Password=alice-dev-password",
            $"--Gateway:Events:AuthComponent=commands.auth.{Domain}", $"--Gateway:Events:PubSubService=pubsub.active-calls.{Domain}",
            "--Gateway:ApiKeys:0:Name=bench", $"--Gateway:ApiKeys:0:Hash={apiKeyHash}", "--Gateway:ApiKeys:0:Scopes:0=*",
            "--Gateway:ApiKeys:0:Destinations:0=*",
            // Its databases in this run's folder: a run never inherits the calls or webhooks of another.
            $"--Gateway:Calls:DatabasePath={System.IO.Path.Combine(dataDirectory, "calls.db")}",
            $"--Gateway:Webhooks:DatabasePath={System.IO.Path.Combine(dataDirectory, "webhooks.db")}",
            "--Logging:LogLevel:Default=Warning",
            .. extra,
        ], Path.GetDirectoryName(gatewayDll), ("ASPNETCORE_ENVIRONMENT", "Production"));
        Pids[role] = pid;
        return pid;
    }

    /// <summary>Waits until <c>/health/ready</c> says every check is healthy (pool up, call-events subscription active).</summary>
    public async Task WaitForGatewayReadyAsync(Uri gateway, TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = gateway };
        await WaitAsync("gateway ready", timeout, async () =>
        {
            try
            {
                var body = await http.GetStringAsync(new Uri("/health/ready", UriKind.Relative));
                return body.Contains("\"Healthy\"", StringComparison.Ordinal) && !body.Contains("\"Unhealthy\"", StringComparison.Ordinal)
                    && !body.Contains("\"Degraded\"", StringComparison.Ordinal);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });
    }

    public string Script(string name) => Path.Combine(RepositoryRoot, "deploy", name);

    public static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Starts a child process with its output in <c>{Directory}/{name}.log</c>; returns its pid.</summary>
    public int Launch(string name, string file, IReadOnlyList<string> arguments, string? workingDirectory = null, params (string, string)[] env)
    {
        // exec through bash so the output goes straight to a file (nothing to drain) and the pid is the program's.
        var info = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory ?? Directory, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$@\" </dev/null >\"$LOG\" 2>&1");
        info.ArgumentList.Add(name);
        info.ArgumentList.Add(file);
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["LOG"] = Path.Combine(Directory, name + ".log");
        foreach (var (k, v) in env) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        _children.Add(process);
        return process.Id;
    }

    public static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }

    /// <summary>Polls <paramref name="condition"/>; fails early when a child process exits.</summary>
    public async Task WaitAsync(string what, TimeSpan timeout, Func<Task<bool>> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            foreach (var child in _children)
                if (child.HasExited) throw new InvalidOperationException($"a child process exited (code {child.ExitCode}) while waiting for {what}; see {Directory}");
            if (watch.Elapsed > timeout) throw new TimeoutException($"{what}: not within {timeout}; see {Directory}");
            await Task.Delay(200);
        }
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>CPU milliseconds (user + system) a process has used so far, from /proc/PID/stat.</summary>
    public static double CpuMs(int pid) => CpuMs($"/proc/{pid}/stat");

    private static double CpuMs(string statFile)
    {
        var stat = File.ReadAllText(statFile);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15 → indexes 11 and 12. Clock ticks of 10 ms.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
    }

    /// <summary>CPU milliseconds each tiered-compilation worker thread of process <paramref name="pid"/> has used so far,
    /// by thread id (the runtime names it ".NET Tiered Com…"); none for a process without one. The worker promotes hot
    /// methods to tier 1 in the background and exits once idle, so a settled process has none or one whose CPU stands
    /// still. By thread, so a worker that exits (and its CPU with it) does not read as negative work.</summary>
    public static IEnumerable<KeyValuePair<(int Pid, int Tid), double>> TieringCpuMs(int pid)
    {
        var threads = new List<KeyValuePair<(int, int), double>>();
        try
        {
            foreach (var task in System.IO.Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith(".NET Tiered", StringComparison.Ordinal)) continue;
                    threads.Add(new((pid, int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)), CpuMs(Path.Combine(task, "stat"))));
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
        }
        catch (IOException)
        {
            // The process ended meanwhile.
        }
        return threads;
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var child in Enumerable.Reverse(_children))
        {
            try
            {
                if (!child.HasExited)
                {
                    child.Kill();
                    await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
            child.Dispose();
        }
        if (System.IO.Directory.Exists(Path.Combine(Directory, "prosody")))
        {
            try
            {
                await RunAsync("bash", [Script("prosody/stop.sh"), "--dir", Path.Combine(Directory, "prosody")]);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine(e.Message);
            }
        }
        if (!KeepDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
