using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ActiveCalls.Service;

/// <summary>The reference service's instruments, on the meter <see cref="MeterName"/>: its commands by <c>node</c> and
/// <c>outcome</c> (<c>completed</c>, <c>rejected</c>: the form was invalid, <c>failed</c>: the engine refused, e.g.
/// NO_ROUTE_DESTINATION, <c>error</c>: an unexpected fault), the calls it placed, and its PubSub notifications by
/// <c>kind</c> (<c>publish</c>, <c>retract</c>). The SIP stack's are on <see cref="Sip.SipMetrics"/>.</summary>
public static class ServiceMetrics
{
    public const string MeterName = "ActiveCalls.Service";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> CommandDuration = Meter.CreateHistogram("activecalls.command.duration", "s",
        "Active-Calls commands handled (from the IQ to the answer), by node and outcome.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

    private static readonly Counter<long> CallsPlaced = Meter.CreateCounter<long>("activecalls.calls.placed", "{call}",
        "Calls placed by create commands (the engine accepted them and started calling the caller).");

    private static readonly Counter<long> Publishes = Meter.CreateCounter<long>("activecalls.pubsub.publishes", "{item}",
        "Active-Calls items published (a leg appeared or changed) and retracted (a leg ended).");

    internal static void CommandHandled(string node, string outcome, long startedAt) =>
        CommandDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
            new KeyValuePair<string, object?>("node", node), new KeyValuePair<string, object?>("outcome", outcome));

    internal static void CallPlaced() => CallsPlaced.Add(1);

    internal static void Published(string kind) => Publishes.Add(1, new KeyValuePair<string, object?>("kind", kind));
}
