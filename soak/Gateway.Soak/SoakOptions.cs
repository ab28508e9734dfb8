using Gateway.Soak.Faults;
using Gateway.Soak.Load;

namespace Gateway.Soak;

/// <summary>Everything a soak run is told: how long, how hard, which faults, where the programs and the state are.</summary>
public sealed record SoakOptions
{
    /// <summary>How long calls are placed and faults dealt.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>After the load stops: how long everything may take to end (on REST, on the streams, on the phones).</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>The verdict wants every fault of the rotation dealt at least this often.</summary>
    public int MinimumFaultsPerKind { get; init; } = 5;

    public DriverSettings Driver { get; init; } = new();

    public FaultSettings Faults { get; init; } = new();

    /// <summary>Gateway settings beyond the stack's own (the soak's API key may make many requests; see the README).</summary>
    public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();

    public required string RepositoryRoot { get; init; }

    public required string StateDirectory { get; init; }

    public required string GatewayDll { get; init; }

    public required string ServiceDll { get; init; }

    /// <summary>The long form: 30 minutes, every fault at least five times (45 s freezes, 20 s pauses).</summary>
    public static SoakOptions Long(string repositoryRoot, string stateDirectory, string gatewayDll, string serviceDll) => new()
    {
        RepositoryRoot = repositoryRoot,
        StateDirectory = stateDirectory,
        GatewayDll = gatewayDll,
        ServiceDll = serviceDll,
    };

    /// <summary>
    /// The short form for CI (under three minutes with start and settle): every fault once, freezes of 12 s (past the
    /// gateway's 10 s IQ timeout), 6 s pauses, and the gateway's periodic reconciliation every 15 s instead of 60 s so
    /// that a call lost to a fault ends within the settle time.
    /// </summary>
    public static SoakOptions Short(string repositoryRoot, string stateDirectory, string gatewayDll, string serviceDll) => new()
    {
        RepositoryRoot = repositoryRoot,
        StateDirectory = stateDirectory,
        GatewayDll = gatewayDll,
        ServiceDll = serviceDll,
        Duration = TimeSpan.FromSeconds(110),
        SettleTimeout = TimeSpan.FromSeconds(60),
        MinimumFaultsPerKind = 1,
        Driver = new DriverSettings { Workers = 3, CommandDeadline = TimeSpan.FromSeconds(60) },
        Faults = new FaultSettings { Pause = TimeSpan.FromSeconds(6), Down = TimeSpan.FromSeconds(1), Frozen = TimeSpan.FromSeconds(12) },
        GatewaySettings = new Dictionary<string, string> { ["Gateway:Events:ReconcileInterval"] = "00:00:15" },
    };
}
