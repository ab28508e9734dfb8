using Gateway.Soak.Stack;

namespace Gateway.Soak.Faults;

/// <summary>What is done to a part: killed with SIGKILL and started again, or frozen with SIGSTOP and thawed.</summary>
public enum FaultKind
{
    Kill,
    Freeze,
}

/// <summary>One fault dealt during the run, with when it began, when the part was back (restarted or thawed), and when
/// the gateway was ready again afterwards.</summary>
public sealed record DealtFault(StackPart Part, FaultKind Kind, DateTimeOffset Began, DateTimeOffset Ended, DateTimeOffset? ReadyAgain)
{
    public string Name => $"{Part.ToString().ToLowerInvariant()} {(Kind == FaultKind.Kill ? "killed" : "frozen")}";

    /// <summary>From the part's return to the gateway's readiness (null when it never became ready).</summary>
    public TimeSpan? Recovery => ReadyAgain - Ended;
}
