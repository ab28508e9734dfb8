using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Testing.Redis;

/// <summary>
/// A private <c>redis-server</c> (Debian's package) on a free loopback port, with its data in a temporary folder:
/// append-only file with <c>appendfsync always</c>, so everything Redis acknowledged survives a kill, as the README
/// asks of a production Redis. It can be killed (SIGKILL), frozen (SIGSTOP/SIGCONT) and started again on the same port
/// with the same data. Set <c>REDIS_TESTS_KEEP=1</c> to keep the folder. A fixture never skips: without redis-server
/// it fails with the command to install it.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private Process? _process;

    public string RunDirectory { get; } = Path.Combine(Path.GetTempPath(), "gateway-redis-" + Guid.NewGuid().ToString("N")[..8]);

    public int Port { get; private set; }

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists("/usr/bin/redis-server"))
            throw new InvalidOperationException("redis-server is not installed: apt-get install -y redis-server (scripts/test.sh does it as root)");
        Directory.CreateDirectory(RunDirectory);
        Port = FreePort();
        await StartAsync();
    }

    /// <summary>Starts the server (a no-op when it runs) on the same port, with the data it had.</summary>
    public Task StartAsync() => OneAtATimeAsync(async () =>
    {
        if (IsRunning) return;
        var start = new ProcessStartInfo("/usr/bin/redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RunDirectory,
        };
        foreach (var argument in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", RunDirectory,
                     "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile", "redis.log",
                 })
            start.ArgumentList.Add(argument);
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await PingsAsync())
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"redis-server did not answer on port {Port}: {Log()}");
            await Task.Delay(50);
        }
    });

    /// <summary>SIGKILL: Redis dies as in a crash; what it acknowledged is in its append-only file.</summary>
    public Task KillAsync() => OneAtATimeAsync(async () =>
    {
        if (_process is not { HasExited: false } process) return;
        process.Kill();
        await process.WaitForExitAsync();
    });

    /// <summary>SIGSTOP: the server hangs with its connections open (as a stuck machine does) until <see cref="ThawAsync"/>.</summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    public Task ThawAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        if (_process is not { HasExited: false } process) return;
        using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Kills the server and starts it again on the same port with its data.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
        await StartAsync();
    }

    /// <summary>Deletes every key (between tests that share the server).</summary>
    public Task FlushAsync() => CommandAsync("FLUSHALL");

    public string Log()
    {
        var path = Path.Combine(RunDirectory, "redis.log");
        return File.Exists(path) ? File.ReadAllText(path) : "(no log)";
    }

    private async Task<bool> PingsAsync()
    {
        try
        {
            await CommandAsync("PING");
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>One inline command over a fresh connection: the fixture needs no Redis client of its own.</summary>
    private async Task CommandAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer);
        var reply = Encoding.ASCII.GetString(buffer, 0, read);
        if (!reply.StartsWith('+')) throw new InvalidOperationException($"redis-server answered {command} with {reply.Trim()}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task OneAtATimeAsync(Func<Task> action)
    {
        await _lifecycle.WaitAsync();
        try
        {
            await action();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ThawAsync();
        await KillAsync();
        _process?.Dispose();
        if (Environment.GetEnvironmentVariable("REDIS_TESTS_KEEP") != "1")
        {
            try
            {
                Directory.Delete(RunDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        _lifecycle.Dispose();
    }
}
