using System.Reflection;

namespace Gateway.Soak.Tests;

/// <summary>
/// The short soak (soak/run-soak.sh --short) against the real stack, each part its own process: Prosody, the reference
/// service, two sipp phones and the gateway, with every fault of the rotation dealt once while calls are placed.
/// </summary>
public sealed class ShortSoakTests
{
    [Fact]
    public async Task EveryCallEndsOnRestOnBothStreamsAndOnThePhonesWhateverIsKilledOrFrozen()
    {
        var root = FindRepository();
        var configuration = typeof(ShortSoakTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        var state = Path.Combine(Path.GetTempPath(), $"soak-{Guid.NewGuid():N}"[..17]);
        var log = new StringWriter();
        var options = SoakOptions.Short(root, state,
            Path.Combine(root, "src", "Gateway.Api", "bin", configuration, "net10.0", "Gateway.Api.dll"),
            Path.Combine(root, "src", "ActiveCalls.Service", "bin", configuration, "net10.0", "ActiveCalls.Service.dll"));

        var report = await SoakRun.RunAsync(options, TextWriter.Synchronized(log), TestContext.Current.CancellationToken);

        TestContext.Current.TestOutputHelper?.WriteLine(log.ToString());
        TestContext.Current.TestOutputHelper?.WriteLine(report.ToMarkdown());
        Assert.True(report.Passed, $"{report.ToMarkdown()}\n{log}\n(state kept in {state})");
        Directory.Delete(state, recursive: true);
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        throw new InvalidOperationException("Gateway.sln was not found above the tests.");
    }
}
