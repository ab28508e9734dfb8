using System.Diagnostics;
using System.Diagnostics.Metrics;
using Gateway.Xmpp.Core;

namespace Gateway.Api.Commands;

/// <summary>
/// The <c>Gateway.Commands</c> meter: how long each Active-Calls command took and how it ended, tagged <c>node</c>
/// (create, terminate, cancel, transfer) and <c>outcome</c>: <c>success</c>, <c>rejected</c> (the component answered
/// with an error), <c>timeout</c> (no answer within the IQ timeout), <c>unavailable</c> (no connection, stream lost,
/// breaker open) or <c>canceled</c> (the caller stopped waiting).
/// </summary>
public sealed class CommandMetrics
{
    public const string MeterName = "Gateway.Commands";

    // From a loopback round trip (a few ms) to the IQ timeout (seconds): finer than the default, which is meant for ms.
    private static readonly double[] Buckets = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly Histogram<double> _duration;

    public CommandMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram("gateway.command.duration", "s", "Active-Calls command round trips (XEP-0050 IQ), by node and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });
    }

    /// <summary>Records one command that started at <paramref name="startedAt"/> (<see cref="Stopwatch.GetTimestamp"/>) and
    /// ended with <paramref name="error"/> (null on success).</summary>
    public void CommandFinished(string node, long startedAt, Exception? error) =>
        _duration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
            new KeyValuePair<string, object?>("node", node), new KeyValuePair<string, object?>("outcome", OutcomeOf(error)));

    internal static string OutcomeOf(Exception? error) => error switch
    {
        null => "success",
        CommandFailedException { InnerException: { } inner } => OutcomeOf(inner),
        OperationCanceledException => "canceled",
        XmppIqTimeoutException => "timeout",
        XmppStanzaErrorException e when Errors.ComponentErrors.IsUnavailable(e.Error) => "unavailable",
        XmppStanzaErrorException or UnexpectedCommandResultException => "rejected",
        _ => "unavailable", // connection lost, breaker open, no connection in the pool
    };
}
