using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Testing.Prosody;

/// <summary>
/// A real Prosody of its own for a test class or collection: a fresh run directory under the temp
/// folder, free loopback ports, a random component secret, and the repository's own configuration
/// (it runs <c>deploy/prosody/start.sh</c>, the script behind <c>scripts/stack.sh</c>).
/// </summary>
/// <remarks>
/// Hosts: <see cref="Domain"/> stores SCRAM-SHA-256 hashes, <see cref="Sha1Domain"/> SCRAM-SHA-1
/// hashes; STARTTLS is required on c2s. The three XEP-0114 components of the reference service are
/// configured with <see cref="ComponentSecret"/>. Clients trust <see cref="CaCertificatePath"/>.
/// If Prosody is not installed the fixture fails (it never skips). Set
/// <c>GATEWAY_TESTS_KEEP_PROSODY=1</c> to keep the run directory (config, logs) after the tests.
/// </remarks>
public sealed class ProsodyFixture : XmppServerLifecycle, IXmppServerFixture
{

    public string ServerName => "Prosody";

    /// <summary>The main XMPP domain; its accounts authenticate with SCRAM-SHA-256.</summary>
    public string Domain { get; } = "activecalls.test";

    /// <summary>A second virtual host whose accounts authenticate with SCRAM-SHA-1.</summary>
    public string Sha1Domain => "sha1." + Domain;

    /// <summary>The XEP-0114 component for the Active-Calls ad-hoc commands.</summary>
    public string ActiveCallsComponent => "commands.active-calls." + Domain;

    /// <summary>The XEP-0114 component for the Auth ad-hoc commands.</summary>
    public string AuthComponent => "commands.auth." + Domain;

    /// <summary>The XEP-0114 component for the Active-Calls PubSub service.</summary>
    public string PubSubComponent => "pubsub.active-calls." + Domain;

    /// <summary>Prosody listens on this address only.</summary>
    public string Host => "127.0.0.1";

    public int C2sPort { get; private set; }

    public int ComponentPort { get; private set; }

    /// <summary>Prosody's HTTPS port, which serves XMPP over WebSocket (<see cref="WebSocketEndpoint"/>) and BOSH
    /// (<see cref="BoshEndpoint"/>).</summary>
    public int HttpsPort { get; private set; }

    /// <summary>The RFC 7395 endpoint (mod_websocket). Its certificate names <see cref="Domain"/>, which clients ask for.</summary>
    public string WebSocketEndpoint => $"wss://{Host}:{HttpsPort}/xmpp-websocket";

    /// <summary>The XEP-0206 endpoint (mod_bosh), with the same certificate.</summary>
    public string BoshEndpoint => $"https://{Host}:{HttpsPort}/http-bind";

    /// <summary>Prosody's plain HTTP port: the same two endpoints without TLS (<see cref="PlainWebSocketEndpoint"/>,
    /// <see cref="PlainBoshEndpoint"/>), as behind a TLS-terminating proxy; Prosody counts their sessions as secure.</summary>
    public int HttpPort { get; private set; }

    /// <summary>XMPP over WebSocket without TLS (ws://).</summary>
    public string PlainWebSocketEndpoint => $"ws://{Host}:{HttpPort}/xmpp-websocket";

    /// <summary>BOSH without TLS (http://).</summary>
    public string PlainBoshEndpoint => $"http://{Host}:{HttpPort}/http-bind";

    /// <summary>The secret of all three components.</summary>
    public string ComponentSecret { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Config, certificates, data and logs of this instance.</summary>
    public override string RunDirectory { get; } =
        Path.Combine(Path.GetTempPath(), "gateway-prosody-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The dev CA that signed the server certificate: trust it to validate the server.</summary>
    public string CaCertificatePath => Path.Combine(RunDirectory, "ca", "ca.crt");

    /// <summary>The server certificate (subjectAltName <see cref="Domain"/> and *.<see cref="Domain"/>).</summary>
    public string CertificatePath => Path.Combine(RunDirectory, "certs", Domain + ".crt");

    public string LogPath => Path.Combine(RunDirectory, "prosody.log");

    public bool IsRunning { get; private set; }

    /// <summary>Loads <see cref="CaCertificatePath"/>.</summary>
    public X509Certificate2 LoadCaCertificate() => X509CertificateLoader.LoadCertificateFromFile(CaCertificatePath);

    /// <summary>Creates the account (or resets its password) on <paramref name="host"/>, by default <see cref="Domain"/>.</summary>
    public async Task RegisterAsync(string user, string password, string? host = null)
    {
        await DeployScript.RunAsync("deploy/prosody/register.sh", [user, host ?? Domain, password, "--dir", RunDirectory]);
    }

    /// <summary>Freezes Prosody with SIGSTOP, as a hung server: its sockets stay open and accept bytes, nothing is answered.
    /// Disposing the result resumes it (SIGCONT); dispose it in a <c>finally</c>, other tests share this server.</summary>
    public async Task<IAsyncDisposable> FreezeAsync()
    {
        var pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(RunDirectory, "prosody.pid")), System.Globalization.CultureInfo.InvariantCulture);
        await SignalAsync(pid, "STOP");
        return new Frozen(pid);
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
                         ?? throw new InvalidOperationException("kill could not be started");
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {pid} failed ({kill.ExitCode})");
    }

    private sealed class Frozen(int pid) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await SignalAsync(pid, "CONT");
    }

    protected override string KeepVariable => "GATEWAY_TESTS_KEEP_PROSODY";

    protected override void EnsureInstalled() => EnsureProsodyInstalled();

    protected override void ReservePorts()
    {
        (C2sPort, ComponentPort) = ReserveFreePorts();
        HttpsPort = ReserveFreePort();
        HttpPort = ReserveFreePort();
    }

    protected override async Task StartCoreAsync()
    {
        await DeployScript.RunAsync("deploy/prosody/start.sh",
        [
            "--dir", RunDirectory,
            "--domain", Domain,
            "--c2s-port", C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--component-port", ComponentPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--https-port", HttpsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--http-port", HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--secret", ComponentSecret,
            "--watch-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ]);
        IsRunning = true;
    }

    protected override async Task StopCoreAsync()
    {
        await DeployScript.RunAsync("deploy/prosody/stop.sh", ["--dir", RunDirectory]);
        IsRunning = false;
    }

    /// <summary>A free loopback TCP port (free when this returns: another process may take it before it is used).</summary>
    public static int ReserveFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Two free loopback TCP ports (free when this returns: another process may take one before it is used).</summary>
    public static (int C2s, int Component) ReserveFreePorts()
    {
        var c2s = new TcpListener(IPAddress.Loopback, 0);
        var component = new TcpListener(IPAddress.Loopback, 0);
        c2s.Start();
        component.Start();
        try
        {
            return (((IPEndPoint)c2s.LocalEndpoint).Port, ((IPEndPoint)component.LocalEndpoint).Port);
        }
        finally
        {
            c2s.Stop();
            component.Stop();
        }
    }

    private static void EnsureProsodyInstalled()
    {
        string[] required = ["prosody", "prosodyctl", "openssl"];
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var missing = required.Where(tool => !path.Any(dir => File.Exists(Path.Combine(dir, tool)))).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The real-Prosody tests need these commands, which were not found on PATH: {string.Join(", ", missing)}. " +
                "Install it with 'sudo apt-get install -y prosody openssl' (scripts/test.sh does this when run as root).");
        }
    }
}

/// <summary>
/// The xunit collection whose test classes (marked <c>[Collection(ProsodyCollection.Name)]</c>) share one
/// <see cref="ProsodyFixture"/>. xunit looks for collection definitions in the test assembly only, so each test project
/// that uses it declares one: <c>[CollectionDefinition(ProsodyCollection.Name)] public sealed class
/// ProsodyCollectionDefinition : ICollectionFixture&lt;ProsodyFixture&gt;;</c>.
/// </summary>
public static class ProsodyCollection
{
    public const string Name = "prosody";
}
