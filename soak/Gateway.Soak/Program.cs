using System.Globalization;
using Gateway.Soak;

// soak/run-soak.sh wraps this; see soak/README.md for the options.
var arguments = args.ToList();
string? Option(string name)
{
    var i = arguments.IndexOf(name);
    return i >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : null;
}

var root = Option("--repository") ?? FindRepository();
var state = Option("--state") ?? Path.Combine(root, ".soak", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
var configuration = Option("--configuration") ?? "Release";
var gatewayDll = Option("--gateway-dll") ?? Path.Combine(root, "src", "Gateway.Api", "bin", configuration, "net10.0", "Gateway.Api.dll");
var serviceDll = Option("--service-dll") ?? Path.Combine(root, "src", "ActiveCalls.Service", "bin", configuration, "net10.0", "ActiveCalls.Service.dll");
foreach (var dll in new[] { gatewayDll, serviceDll })
{
    if (!File.Exists(dll))
    {
        Console.Error.WriteLine($"{dll} is missing: build the solution first (dotnet build -c {configuration}).");
        return 2;
    }
}

var options = arguments.Contains("--short")
    ? SoakOptions.Short(root, state, gatewayDll, serviceDll)
    : SoakOptions.Long(root, state, gatewayDll, serviceDll);
if (Option("--minutes") is { } minutes) options = options with { Duration = TimeSpan.FromMinutes(double.Parse(minutes, CultureInfo.InvariantCulture)) };
if (Option("--workers") is { } workers) options = options with { Driver = options.Driver with { Workers = int.Parse(workers, CultureInfo.InvariantCulture) } };
if (Option("--min-faults") is { } minimum) options = options with { MinimumFaultsPerKind = int.Parse(minimum, CultureInfo.InvariantCulture) };

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var report = await SoakRun.RunAsync(options, Console.Out, cancel.Token);
var markdown = report.ToMarkdown();
var reportPath = Path.Combine(state, "report.md");
await File.WriteAllTextAsync(reportPath, markdown);
Console.WriteLine();
Console.WriteLine(markdown);
Console.WriteLine($"Report: {reportPath}");
return report.Passed ? 0 : 1;

static string FindRepository()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
    throw new InvalidOperationException("Gateway.sln was not found above the program; pass --repository.");
}
