using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Gateway.Testing.Ejabberd;

/// <summary>
/// A real ejabberd 23.01 of its own for a test class or collection, the counterpart of
/// <see cref="Prosody.ProsodyFixture"/>: a fresh run directory under the temp folder, free loopback ports, a random
/// component secret, and the repository's own configuration (it runs <c>deploy/ejabberd/start.sh</c>).
/// </summary>
/// <remarks>
/// The same shape as the Prosody fixture (<see cref="IXmppServerFixture"/>). ejabberd runs as its own Erlang node on a
/// loopback distribution port of its own (no epmd, no system node touched). If ejabberd is not installed the fixture
/// fails (it never skips). Set <c>GATEWAY_TESTS_KEEP_EJABBERD=1</c> to keep the run directory (config, logs) after the
/// tests.
/// </remarks>
public sealed class EjabberdFixture : XmppServerLifecycle, IXmppServerFixture
{
    private static readonly string[] RequiredCommands = ["erl", "openssl"];
    private int _distributionPort;

    public string ServerName => "ejabberd";

    public string Domain { get; } = "activecalls.test";

    public string Sha1Domain => "sha1." + Domain;

    public string ActiveCallsComponent => "commands.active-calls." + Domain;

    public string AuthComponent => "commands.auth." + Domain;

    public string PubSubComponent => "pubsub.active-calls." + Domain;

    public string Host => "127.0.0.1";

    public int C2sPort { get; private set; }

    public int ComponentPort { get; private set; }

    public string ComponentSecret { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Config, certificates, spool (Mnesia), node cookie and logs of this instance.</summary>
    public override string RunDirectory { get; } =
        Path.Combine(Path.GetTempPath(), "gateway-ejabberd-" + Guid.NewGuid().ToString("N")[..12]);

    public string CaCertificatePath => Path.Combine(RunDirectory, "ca", "ca.crt");

    public string LogPath => Path.Combine(RunDirectory, "log", "ejabberd.log");

    /// <summary>Creates the account (or resets its password); unlike Prosody's, ejabberd's accounts can only be created
    /// while it runs.</summary>
    public async Task RegisterAsync(string user, string password, string? host = null)
    {
        await DeployScript.RunAsync("deploy/ejabberd/register.sh", [user, host ?? Domain, password, "--dir", RunDirectory]);
    }

    protected override string KeepVariable => "GATEWAY_TESTS_KEEP_EJABBERD";

    protected override void EnsureInstalled() => EnsureEjabberdInstalled();

    protected override void ReservePorts() => (C2sPort, ComponentPort, _distributionPort) = ReserveFreePorts();

    protected override Task StartCoreAsync() => DeployScript.RunAsync("deploy/ejabberd/start.sh",
    [
        "--dir", RunDirectory,
        "--domain", Domain,
        "--c2s-port", C2sPort.ToString(CultureInfo.InvariantCulture),
        "--component-port", ComponentPort.ToString(CultureInfo.InvariantCulture),
        "--dist-port", _distributionPort.ToString(CultureInfo.InvariantCulture),
        "--secret", ComponentSecret,
        "--watch-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
    ]);

    protected override Task StopCoreAsync() => DeployScript.RunAsync("deploy/ejabberd/stop.sh", ["--dir", RunDirectory]);

    /// <summary>Three free loopback TCP ports: c2s, components and the node's distribution port.</summary>
    private static (int C2s, int Component, int Distribution) ReserveFreePorts()
    {
        var listeners = Enumerable.Range(0, 3).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
            return (ports[0], ports[1], ports[2]);
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private static void EnsureEjabberdInstalled()
    {
        // erl comes with ejabberd's Erlang runtime; the package itself is told by its code (/usr/lib/<arch>/ejabberd-<version>),
        // where deploy/ejabberd/node.sh finds it too.
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var missing = RequiredCommands.Where(tool => !path.Any(dir => File.Exists(Path.Combine(dir, tool)))).ToList();
        string[] libraries = Directory.Exists("/usr/lib") ? ["/usr/lib", .. Directory.GetDirectories("/usr/lib")] : [];
        var ejabberdCode = libraries.SelectMany(lib => Directory.GetDirectories(lib, "ejabberd-*"))
            .Any(app => File.Exists(Path.Combine(app, "ebin", "ejabberd.beam")));
        if (!ejabberdCode) missing.Insert(0, "ejabberd");
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The real-ejabberd tests need these, which were not found: {string.Join(", ", missing)}. " +
                "Install them with 'sudo apt-get install -y ejabberd openssl' (scripts/test.sh does this when run as root).");
        }
    }
}

/// <summary>
/// The xunit collection whose test classes (marked <c>[Collection(EjabberdCollection.Name)]</c>) share one
/// <see cref="EjabberdFixture"/>. Each test project that uses it declares the definition (xunit looks in the test assembly
/// only): <c>[CollectionDefinition(EjabberdCollection.Name)] public sealed class EjabberdCollectionDefinition :
/// ICollectionFixture&lt;EjabberdFixture&gt;;</c>.
/// </summary>
public static class EjabberdCollection
{
    public const string Name = "ejabberd";
}
