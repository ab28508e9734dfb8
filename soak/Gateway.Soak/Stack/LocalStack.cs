using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Gateway.Soak.Stack;

/// <summary>A part of the stack a fault is dealt to.</summary>
public enum StackPart
{
    Prosody,
    Service,
    Gateway,
}

/// <summary>Where the built programs are and how the gateway is set up.</summary>
public sealed record StackSettings
{
    /// <summary>The repository (deploy/prosody, deploy/sipp, the dev users file).</summary>
    public required string RepositoryRoot { get; init; }

    /// <summary>Everything of the run goes here: Prosody's data, both databases, every log.</summary>
    public required string StateDirectory { get; init; }

    public required string GatewayDll { get; init; }

    public required string ServiceDll { get; init; }

    /// <summary>Settings added to the gateway's command line (<c>Section:Key</c> → value).</summary>
    public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The local Active-Calls stack as separate processes, as users run it: Prosody (this repository's config, started by
/// <c>deploy/prosody/start.sh</c>), two sipp phones that answer (alice and bob), the reference service and the gateway
/// (each <c>dotnet X.dll</c> from its build output). Each part can be killed (SIGKILL), started again on the same
/// ports and data, frozen (SIGSTOP) and thawed (SIGCONT).
/// </summary>
public sealed partial class LocalStack : IAsyncDisposable
{
    public const string Domain = "activecalls.test";
    public const string Alice = "alice@" + Domain;
    public const string Bob = "bob@" + Domain;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly StackSettings _settings;
    private readonly TextWriter _log;
    private readonly string _prosodyDirectory;
    private readonly string _secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private readonly string _xmppPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
    private readonly int _c2sPort;
    private readonly int _componentPort;
    private readonly int _sipPort;
    private readonly int _httpPort;
    private readonly List<SippPhone> _phones = [];
    private ChildProcess? _service;
    private ChildProcess? _gateway;

    private LocalStack(StackSettings settings, TextWriter log)
    {
        _settings = settings;
        _log = log;
        _prosodyDirectory = Path.Combine(settings.StateDirectory, "prosody");
        _c2sPort = FreeTcpPort();
        _componentPort = FreeTcpPort();
        _sipPort = SippPhone.FreeUdpPort();
        _httpPort = FreeTcpPort();
        ApiKey = "soak-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        GatewayUrl = new Uri($"http://127.0.0.1:{_httpPort}/");
    }

    public Uri GatewayUrl { get; }

    /// <summary>An API key for every address and destination.</summary>
    public string ApiKey { get; }

    public IReadOnlyList<SippPhone> Phones => _phones;

    /// <summary>How often each part was started (the first start included).</summary>
    public IReadOnlyDictionary<StackPart, int> Starts => _starts;

    private readonly Dictionary<StackPart, int> _starts = new() { [StackPart.Prosody] = 0, [StackPart.Service] = 0, [StackPart.Gateway] = 0 };

    public static async Task<LocalStack> StartAsync(StackSettings settings, TextWriter log, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(settings.StateDirectory);
        var stack = new LocalStack(settings, log);
        try
        {
            await stack.StartAsync(StackPart.Prosody, cancellationToken);
            await stack.RunScriptAsync("deploy/prosody/register.sh", ["gateway", Domain, stack._xmppPassword, "--dir", stack._prosodyDirectory], cancellationToken);
            stack._phones.Add(await SippPhone.StartAsync(settings.RepositoryRoot, "alice", Path.Combine(settings.StateDirectory, "phones", "alice"), cancellationToken));
            stack._phones.Add(await SippPhone.StartAsync(settings.RepositoryRoot, "bob", Path.Combine(settings.StateDirectory, "phones", "bob"), cancellationToken));
            await stack.StartAsync(StackPart.Service, cancellationToken);
            await stack.StartAsync(StackPart.Gateway, cancellationToken);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts <paramref name="part"/> (again) on the same ports and data, and waits until it serves.</summary>
    public async Task StartAsync(StackPart part, CancellationToken cancellationToken)
    {
        switch (part)
        {
            case StackPart.Prosody:
                await RunScriptAsync("deploy/prosody/start.sh",
                [
                    "--dir", _prosodyDirectory, "--domain", Domain,
                    "--c2s-port", _c2sPort.ToString(CultureInfo.InvariantCulture),
                    "--component-port", _componentPort.ToString(CultureInfo.InvariantCulture),
                    "--secret", _secret, "--watch-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                ], cancellationToken);
                break;
            case StackPart.Service:
                _service = await StartServiceAsync(cancellationToken);
                break;
            case StackPart.Gateway:
                _gateway = await StartGatewayAsync(cancellationToken);
                break;
        }
        _starts[part]++;
    }

    /// <summary>SIGKILL to <paramref name="part"/>; returns when it is gone.</summary>
    public async Task KillAsync(StackPart part)
    {
        switch (part)
        {
            case StackPart.Prosody:
                if (ProsodyPid() is not { } pid) break;
                ChildProcess.Thaw(pid);
                ChildProcess.Kill(pid);
                for (var i = 0; i < 100 && File.Exists($"/proc/{pid}/status") && !IsZombie(pid); i++) await Task.Delay(50);
                break;
            case StackPart.Service:
                await Running(_service, part).KillAsync();
                break;
            case StackPart.Gateway:
                await Running(_gateway, part).KillAsync();
                break;
        }
    }

    public void Freeze(StackPart part) => Signal(part, freeze: true);

    public void Thaw(StackPart part) => Signal(part, freeze: false);

    private void Signal(StackPart part, bool freeze)
    {
        var pid = part switch
        {
            StackPart.Prosody => ProsodyPid() ?? throw new InvalidOperationException($"{part} is not running."),
            StackPart.Service => Running(_service, part).Id,
            _ => Running(_gateway, part).Id,
        };
        if (freeze) ChildProcess.Freeze(pid);
        else ChildProcess.Thaw(pid);
    }

    /// <summary>The part's resident set size now (null when it is not running).</summary>
    public long? ResidentBytes(StackPart part) => part switch
    {
        StackPart.Prosody => ProsodyPid() is { } pid ? ChildProcess.ResidentBytes(pid) : null,
        StackPart.Service => _service?.ResidentBytes(),
        _ => _gateway?.ResidentBytes(),
    };

    /// <summary>Parts that exited without a fault being dealt to them (a crash of their own).</summary>
    public IEnumerable<StackPart> Exited()
    {
        if (_service is { HasExited: true }) yield return StackPart.Service;
        if (_gateway is { HasExited: true }) yield return StackPart.Gateway;
    }

    private static ChildProcess Running(ChildProcess? process, StackPart part) =>
        process is { HasExited: false } running ? running : throw new InvalidOperationException($"{part} is not running.");

    private string ProsodyPidFile => Path.Combine(_prosodyDirectory, "prosody.pid");

    /// <summary>The pid in Prosody's pid file while that process is this run's Prosody: a SIGKILL leaves the file behind,
    /// and its pid may since belong to anything else (even this process), which must never be signalled. As
    /// <c>deploy/prosody/stop.sh</c>, the process's command line must name this run directory's config.</summary>
    private int? ProsodyPid()
    {
        try
        {
            var pid = int.Parse(File.ReadAllText(ProsodyPidFile).Trim(), CultureInfo.InvariantCulture);
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return commandLine.Contains(Path.GetFullPath(Path.Combine(_prosodyDirectory, "prosody.cfg.lua")), StringComparison.Ordinal) && !IsZombie(pid) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadLines($"/proc/{pid}/status").Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains('Z', StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<ChildProcess> StartServiceAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(_settings.StateDirectory, "service");
        Directory.CreateDirectory(directory);
        var logPath = Path.Combine(directory, "service.log");
        var logStart = File.Exists(logPath) ? new FileInfo(logPath).Length : 0;
        var arguments = new List<string>
        {
            _settings.ServiceDll,
            $"--ActiveCalls:Domain={Domain}", "--ActiveCalls:XmppHost=127.0.0.1",
            $"--ActiveCalls:ComponentPort={_componentPort}", $"--ActiveCalls:ComponentSecret={_secret}",
            $"--ActiveCalls:UsersFile={Path.Combine(_settings.RepositoryRoot, "src", "ActiveCalls.Service", "users.dev.json")}",
            "--Sip:BindAddress=127.0.0.1", $"--Sip:Port={_sipPort}", $"--Sip:LocalDomains:0={Domain}",
            $"--ActiveCalls:Storage:DatabasePath={Path.Combine(directory, "active-calls.db")}",
        };
        foreach (var phone in _phones) arguments.Add($"--Sip:Contacts:{phone.User}@{Domain}=127.0.0.1:{phone.Port}");
        var process = ChildProcess.Start("dotnet", arguments, directory, logPath, TimestampedLogs);
        // Ready when its three components (commands, auth, pubsub) are connected to Prosody.
        await WaitUntilAsync(() => CountSince(logPath, logStart, ComponentConnected()) >= 3, process, "the reference service's components to connect", cancellationToken);
        return process;
    }

    private async Task<ChildProcess> StartGatewayAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(_settings.StateDirectory, "gateway");
        Directory.CreateDirectory(directory);
        var settings = new Dictionary<string, string>
        {
            ["Gateway:Xmpp:Jid"] = "gateway@" + Domain,
            ["Gateway:Xmpp:Password"] = _xmppPassword,
            ["Gateway:Xmpp:Host"] = "127.0.0.1",
            ["Gateway:Xmpp:Port"] = _c2sPort.ToString(CultureInfo.InvariantCulture),
            ["Gateway:Xmpp:TrustedCertificatePath"] = Path.Combine(_prosodyDirectory, "ca", "ca.crt"),
            ["Gateway:Components:Commands"] = "commands.active-calls." + Domain,
            ["Gateway:Events:AuthComponent"] = "commands.auth." + Domain,
            ["Gateway:Events:PubSubService"] = "pubsub.active-calls." + Domain,
            ["Gateway:Events:SipAddress"] = Alice,
            ["Gateway:Events:Password"] = "alice-dev-password",
            ["Gateway:Webhooks:DatabasePath"] = Path.Combine(directory, "webhooks.db"),
            ["Gateway:Calls:DatabasePath"] = Path.Combine(directory, "calls.db"),
            ["Gateway:ApiKeys:0:Name"] = "soak",
            ["Gateway:ApiKeys:0:Hash"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey))),
            ["Gateway:ApiKeys:0:Scopes:0"] = "*",
            ["Gateway:ApiKeys:0:Destinations:0"] = "*",
        };
        foreach (var (key, value) in _settings.GatewaySettings) settings[key] = value;
        var arguments = new List<string> { _settings.GatewayDll, "--urls", GatewayUrl.ToString().TrimEnd('/') };
        arguments.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        var process = ChildProcess.Start("dotnet", arguments, directory, Path.Combine(directory, "gateway.log"),
            new Dictionary<string, string>(TimestampedLogs) { ["ASPNETCORE_ENVIRONMENT"] = "Production" });
        using var http = new HttpClient { BaseAddress = GatewayUrl, Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync(new Uri("health/ready", UriKind.Relative), cancellationToken)).StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }, process, "the gateway to be ready", cancellationToken);
        return process;
    }

    // Every log line with the time, so a fault and what followed it can be lined up afterwards.
    private static readonly Dictionary<string, string> TimestampedLogs = new() { ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff " };

    private static int CountSince(string path, long offset, Regex pattern)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(offset, SeekOrigin.Begin);
            return pattern.Count(new StreamReader(stream).ReadToEnd());
        }
        catch (FileNotFoundException)
        {
            return 0;
        }
    }

    [GeneratedRegex("Component .* connected to")]
    private static partial Regex ComponentConnected();

    private static Task WaitUntilAsync(Func<bool> condition, ChildProcess process, string what, CancellationToken cancellationToken) =>
        WaitUntilAsync(() => Task.FromResult(condition()), process, what, cancellationToken);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, ChildProcess process, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!await condition())
        {
            if (process.HasExited) throw new InvalidOperationException($"The process exited while waiting for {what}; see its log.");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}.");
            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task RunScriptAsync(string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var logPath = Path.Combine(_settings.StateDirectory, "scripts.log");
        await using var process = ChildProcess.Start("bash", [Path.Combine(_settings.RepositoryRoot, script), .. arguments],
            _settings.RepositoryRoot, logPath);
        var exit = await process.WaitForExitAsync(StartTimeout, cancellationToken);
        if (exit != 0) throw new InvalidOperationException($"{script} failed with exit code {exit}; see {logPath}.");
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_service is not null) await _service.DisposeAsync();
        foreach (var phone in _phones) await phone.DisposeAsync();
        if (File.Exists(ProsodyPidFile))
        {
            try
            {
                await RunScriptAsync("deploy/prosody/stop.sh", ["--dir", _prosodyDirectory], CancellationToken.None);
            }
            catch (InvalidOperationException e)
            {
                await _log.WriteLineAsync($"stopping Prosody: {e.Message}");
            }
        }
    }
}
