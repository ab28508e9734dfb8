using System.Diagnostics;
using Gateway.Testing;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>
/// The reference service as Program.cs runs it, in a child process (<c>dotnet ActiveCalls.Service.dll --Key=value …</c>,
/// the build of this test's configuration), so that a test can kill it as <c>kill -9</c> would: no graceful stop, no BYE,
/// no retraction. Its console goes to <see cref="LogPath"/>.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, string logPath)
    {
        _process = process;
        LogPath = logPath;
    }

    public string LogPath { get; }

    /// <summary>Starts the service with <paramref name="settings"/> as command-line configuration and waits until its three
    /// components are connected to the XMPP server.</summary>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string> settings, string logPath)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // …/bin/<Configuration>/net10.0/
        var dll = RepositoryRoot.Combine("src", "ActiveCalls.Service", "bin", configuration, "net10.0", "ActiveCalls.Service.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(dll);
        foreach (var (key, value) in settings) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = new Process { StartInfo = info };
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var service = new ServiceProcess(process, logPath);
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Exited += (_, _) => log.Dispose();
        process.EnableRaisingEvents = true;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await service.WaitUntilConnectedAsync();
        return service;
    }

    /// <summary>SIGKILL, as <c>kill -9</c>: the process ends at once, its sockets and file locks released by the kernel.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private async Task WaitUntilConnectedAsync()
    {
        for (var i = 0; i < 600; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The service exited ({_process.ExitCode}):\n{ReadLog()}");
            if (ReadLog().Split('\n').Count(l => l.Contains("connected to", StringComparison.Ordinal) && l.Contains("Component", StringComparison.Ordinal)) >= 3) return;
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"The service's components did not connect:\n{ReadLog()}");
    }

    public string ReadLog()
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            try { log.WriteLine(line); }
            catch (ObjectDisposedException) { }
        }
    }
}
