using Gateway.Fuzz;
using SharpFuzz;

// Usage:
//   dotnet Gateway.Fuzz.dll TARGET [--warmup DIR]   run under afl-fuzz (SharpFuzz's out-of-process fork server)
//   dotnet Gateway.Fuzz.dll TARGET --run FILE...     replay inputs once each and report what escaped
//   dotnet Gateway.Fuzz.dll --list                   the target names
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: Gateway.Fuzz TARGET [--warmup DIR] | TARGET --run FILE... | --list");
    Console.Error.WriteLine("targets: " + string.Join(", ", TargetRegistry.Names));
    return 2;
}
if (args[0] == "--list")
{
    foreach (var name in TargetRegistry.Names) Console.WriteLine(name);
    return 0;
}
if (!TargetRegistry.TryGet(args[0], out var target))
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(", ", TargetRegistry.Names)}");
    return 2;
}

if (args.Length >= 2 && args[1] == "--run")
{
    int failures = 0;
    foreach (var file in args[2..])
    {
        try
        {
            bool accepted = target(File.ReadAllBytes(file));
            Console.WriteLine($"{file}: ok ({(accepted ? "accepted" : "rejected")})");
        }
        catch (Exception e)
        {
            failures++;
            Console.WriteLine($"{file}: CRASH {e}");
        }
    }
    return failures == 0 ? 0 : 1;
}

// Lazy initialisation (JSON metadata, regexes, name caches) on the first inputs would make AFL see paths that vanish on
// later runs of the same input; running the seeds once first keeps the fuzzer's stability near 100 %.
if (args.Length >= 3 && args[1] == "--warmup" && Directory.Exists(args[2]))
{
    // Instrumented code writes its trace to SharpFuzz's shared memory, which exists only once the fork server runs:
    // until then it goes to a scratch map of AFL's size (the fork server replaces the pointer).
    Coverage.UseScratchMap();
    foreach (var file in Directory.EnumerateFiles(args[2], "*", SearchOption.AllDirectories))
    {
        try { target(File.ReadAllBytes(file)); }
        catch (Exception) { /* a crashing seed is AFL's to report */ }
    }
}

var input = new MemoryStream();
Fuzzer.OutOfProcess.Run(stream =>
{
    input.SetLength(0);
    stream.CopyTo(input);
    target(input.GetBuffer().AsSpan(0, (int)input.Length));
});
return 0;
