using System.Runtime.InteropServices;

namespace Gateway.Fuzz;

internal static class Coverage
{
    /// <summary>AFL's map size, which SharpFuzz's instrumentation indexes into.</summary>
    private const int MapSize = 1 << 16;

    /// <summary>Points the instrumentation at a private map, so instrumented code can run before the fork server
    /// starts without writing through a null pointer (which kills the process with SIGABRT).</summary>
    public static unsafe void UseScratchMap()
    {
        if (SharpFuzz.Common.Trace.SharedMem == null) SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(MapSize);
    }
}
