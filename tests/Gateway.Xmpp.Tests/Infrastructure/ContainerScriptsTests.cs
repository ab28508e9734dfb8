using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Testing;
using Gateway.Testing.Prosody;

namespace Gateway.Xmpp.Tests.Infrastructure;

/// <summary>
/// What the container images run, on this machine's real sockets: <c>deploy/prosody/start.sh</c>'s container modes (a
/// real Prosody) and the checks of <c>deploy/docker/healthcheck.sh</c> behind every image's HEALTHCHECK, which decide
/// when <c>docker compose up</c> starts the next service.
/// </summary>
public sealed class ContainerScriptsTests
{
    private static readonly string Root = RepositoryRoot.FullPath;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task ForegroundStartBecomesProsodyOnTheGivenAddressLogsToStdoutAndStopsCleanlyOnSigterm()
    {
        var dir = Path.Combine(Path.GetTempPath(), "prosody-foreground-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        var (c2s, component) = ProsodyFixture.ReserveFreePorts();
        string[] options = ["--dir", dir, "--c2s-port", $"{c2s}", "--component-port", $"{component}", "--interface", "127.0.0.2"];
        Process? server = null;
        try
        {
            var configured = await RunAsync("deploy/prosody/start.sh", [.. options, "--configure-only"]);
            Assert.Equal(0, configured.ExitCode);
            Assert.Contains("interfaces = { \"127.0.0.2\" }", await File.ReadAllTextAsync(Path.Combine(dir, "prosody.cfg.lua"), Ct), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(dir, "ca", "ca.crt")));
            Assert.False(await AcceptsAsync("127.0.0.2", c2s), "--configure-only must not start the server");

            server = Start("deploy/prosody/start.sh", [.. options, "--foreground"]);
            var output = Collect(server);
            var waited = Stopwatch.StartNew();
            while (!await AcceptsAsync("127.0.0.2", c2s) || !await AcceptsAsync("127.0.0.2", component))
            {
                Assert.False(server.HasExited, "start.sh --foreground exited: " + output);
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(45), "Prosody did not listen on 127.0.0.2: " + output);
                await Task.Delay(100, Ct);
            }

            Assert.False(await AcceptsAsync("127.0.0.1", c2s), "Prosody must listen on the --interface address only");
            // A stream answered on that address: the event loop runs, so Prosody's SIGTERM handler is installed (its
            // mod_posix sets it from the loop's first timer; a SIGTERM before that kills the process outright).
            await using (var stream = await ProsodyFixtureTests.RawXmppSocket.ConnectAsync("127.0.0.2", c2s))
                Assert.Matches("from=['\"]activecalls.test['\"]", (await stream.OpenClientStreamAsync("activecalls.test")).Header);
            // exec: the process the container runtime started and signals is Prosody itself.
            var commandLine = (await File.ReadAllTextAsync($"/proc/{server.Id}/cmdline", Ct)).Split('\0');
            Assert.Contains("-F", commandLine);
            Assert.Contains(commandLine, a => a.EndsWith("/prosody", StringComparison.Ordinal));
            Assert.DoesNotContain(commandLine, a => a.EndsWith("start.sh", StringComparison.Ordinal));

            Assert.Equal(0, (await RunCommandAsync("kill", ["-TERM", $"{server.Id}"])).ExitCode);
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            stopping.CancelAfter(TimeSpan.FromSeconds(20));
            await server.WaitForExitAsync(stopping.Token);

            Assert.Equal(0, server.ExitCode);
            var log = output.ToString();
            Assert.Contains($"Activated service 'c2s' on [127.0.0.2]:{c2s}", log, StringComparison.Ordinal);
            Assert.Contains("Shutdown complete", log, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "prosody.log")), "in the foreground Prosody logs to stdout, not to a file");
        }
        finally
        {
            // A failed assertion leaves the server running (perhaps before its pidfile exists, which stop.sh goes by).
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync(CancellationToken.None);
            }
            server?.Dispose();
            await RunAsync("deploy/prosody/stop.sh", ["--dir", dir]);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ListeningCheckPassesForBoundTcpAndUdpPortsOfTheRightProtocolOnly()
    {
        var tcp = new TcpListener(IPAddress.Loopback, 0);
        tcp.Start();
        var tcpPort = ((IPEndPoint)tcp.LocalEndpoint).Port;
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var udpPort = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
        try
        {
            Assert.Equal(0, (await HealthcheckAsync("listening", "tcp", tcpPort)).ExitCode);
            Assert.Equal(0, (await HealthcheckAsync("listening", "udp", udpPort)).ExitCode);
            Assert.Equal(1, (await HealthcheckAsync("listening", "udp", tcpPort)).ExitCode);
            var missing = await HealthcheckAsync("listening", "tcp", tcpPort, udpPort);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains($"no tcp socket on port {udpPort}", missing.Output, StringComparison.Ordinal);
        }
        finally
        {
            tcp.Stop();
        }

        Assert.Equal(1, (await HealthcheckAsync("listening", "tcp", tcpPort)).ExitCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task ConnectedCheckCountsEstablishedConnectionsToTheRemotePortOverIPv4AndDualModeSockets()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        try
        {
            // The .NET services connect with dual-mode IPv6 sockets (listed in /proc/net/tcp6 as ::ffff:a.b.c.d).
            using var ipv4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var dualMode = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await ipv4.ConnectAsync(IPAddress.Loopback, port, Ct);
            await dualMode.ConnectAsync(IPAddress.Loopback, port, Ct);
            using var accepted1 = await listener.AcceptSocketAsync(Ct);
            using var accepted2 = await listener.AcceptSocketAsync(Ct);

            Assert.Equal(0, (await HealthcheckAsync("connected", port, 2)).ExitCode);
            var tooFew = await HealthcheckAsync("connected", port, 3);
            Assert.Equal(1, tooFew.ExitCode);
            Assert.Contains($"2 established connection(s) to port {port}, 3 expected", tooFew.Output, StringComparison.Ordinal);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Theory(Timeout = 30_000)]
    [InlineData(200, 0)]
    [InlineData(503, 1)]
    [InlineData(404, 1)]
    public async Task HttpCheckPassesOnlyWhenThePathAnswers200(int status, int expectedExitCode)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        try
        {
            var request = AnswerOnceAsync(listener, status);

            var result = await HealthcheckAsync("http", port, "/health/ready");

            Assert.Equal(expectedExitCode, result.ExitCode);
            Assert.StartsWith("GET /health/ready HTTP/1.1\r\n", await request, StringComparison.Ordinal);
        }
        finally
        {
            listener.Stop();
        }

        Assert.Equal(1, (await HealthcheckAsync("http", port, "/health/ready")).ExitCode);
    }

    private static async Task<string> AnswerOnceAsync(TcpListener listener, int status)
    {
        using var client = await listener.AcceptTcpClientAsync(Ct);
        var stream = client.GetStream();
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, Ct);
            if (read == 0) break;
            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), Ct);
        return head.ToString();
    }

    private static async Task<bool> AcceptsAsync(string address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(address), port, Ct);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static Task<(int ExitCode, string Output)> HealthcheckAsync(params object[] arguments) =>
        RunAsync("deploy/docker/healthcheck.sh", arguments.Select(a => Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!).ToArray());

    private static Task<(int ExitCode, string Output)> RunAsync(string script, string[] arguments) =>
        RunCommandAsync("bash", [Path.Combine(Root, script), .. arguments]);

    private static async Task<(int ExitCode, string Output)> RunCommandAsync(string command, string[] arguments)
    {
        using var process = Start(command, arguments, script: false);
        var output = Collect(process);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token); // also waits for the redirected output to drain
        return (process.ExitCode, output.ToString());
    }

    private static Process Start(string command, string[] arguments, bool script = true)
    {
        var startInfo = new ProcessStartInfo(script ? "bash" : command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        if (script) startInfo.ArgumentList.Add(Path.Combine(Root, command));
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not run {command}");
        process.StandardInput.Close();
        return process;
    }

    /// <summary>Stdout and stderr of <paramref name="process"/>, as they arrive.</summary>
    private static StringBuilder Collect(Process process)
    {
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }
}
