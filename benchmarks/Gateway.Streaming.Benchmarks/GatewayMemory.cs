using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace Gateway.Streaming.Benchmarks;

internal sealed record MemoryReading(long HeapBytes, long WorkingSetBytes)
{
    public double HeapMiB => HeapBytes / 1048576.0;

    public double WorkingSetMiB => WorkingSetBytes / 1048576.0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"managed heap {HeapMiB:F1} MiB, working set {WorkingSetMiB:F1} MiB");
}

/// <summary>Reads another .NET process's memory: its managed heap right after a full GC that this reading forces (an
/// EventPipe session with the GCHeapCollect keyword, as dotnet-gcdump does), and its working set (VmRSS).</summary>
internal static class GatewayMemory
{
    public static async Task<MemoryReading> ReadAsync(int pid)
    {
        var client = new DiagnosticsClient(pid);
        var provider = new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational,
            (long)(ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.GCHeapCollect));
        using var session = client.StartEventPipeSession(provider, requestRundown: false);
        using var source = new EventPipeEventSource(session.EventStream);
        var heap = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var induced = false;
        source.Clr.GCStart += e => induced |= e.Reason == GCReason.Induced && e.Depth == 2;
        source.Clr.GCHeapStats += e =>
        {
            if (induced) heap.TrySetResult(e.TotalHeapSize);
        };
        var processing = Task.Run(source.Process);
        long bytes;
        try
        {
            bytes = await heap.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await session.StopAsync(CancellationToken.None);
            await processing;
        }
        return new MemoryReading(bytes, WorkingSet(pid));
    }

    private static long WorkingSet(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }
}
