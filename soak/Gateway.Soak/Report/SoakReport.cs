using System.Globalization;
using System.Text;
using Gateway.Soak.Faults;
using Gateway.Soak.Load;
using Gateway.Soak.Stack;
using Gateway.Soak.Streams;

namespace Gateway.Soak.Report;

/// <summary>One promise checked at the end of a run.</summary>
public sealed record SoakCheck(string Promise, bool Kept, string Detail);

/// <summary>What became of one call, across REST, the two streams and the phones.</summary>
public sealed record CallOutcome(SoakCall Call, RestCall? Rest, int SseMissing, int SignalRMissing, IReadOnlyList<PhoneDialog> PhoneDialogs)
{
    public bool SequencesContiguous => Rest is null || Rest.Events.Select(e => e.Sequence).SequenceEqual(Enumerable.Range(1, Rest.Events.Count).Select(i => (long)i));

    public bool UpOnAPhone => PhoneDialogs.Any(d => d.Up);
}

/// <summary>The figures of a run and the promises they back; <see cref="Passed"/> when every promise was kept.</summary>
public sealed class SoakReport
{
    public required DateTimeOffset StartedAt { get; init; }

    public required TimeSpan LoadDuration { get; init; }

    public required TimeSpan SettleDuration { get; init; }

    public required double LoadAverageBefore { get; init; }

    public required IReadOnlyList<CallOutcome> Calls { get; init; }

    public required IReadOnlyList<DealtFault> Faults { get; init; }

    public required IReadOnlyList<StreamLedger> Streams { get; init; }

    public required IReadOnlyList<PhoneLedger> Phones { get; init; }

    public required IReadOnlyDictionary<StackPart, (long First, long Last, long Max)> Memory { get; init; }

    public required IReadOnlyDictionary<StackPart, int> Starts { get; init; }

    public required IReadOnlyList<StackPart> UnexpectedExits { get; init; }

    public required int MinimumFaultsPerKind { get; init; }

    public required IReadOnlyList<(StackPart Part, FaultKind Kind)> Rotation { get; init; }

    public bool Passed => Checks.All(c => c.Kept);

    public IReadOnlyList<SoakCheck> Checks => _checks ??= BuildChecks();

    private IReadOnlyList<SoakCheck>? _checks;

    private IEnumerable<CallOutcome> Known => Calls.Where(c => c.Rest is not null);

    private List<SoakCheck> BuildChecks()
    {
        var accepted = Calls.Where(c => c.Call.Create == CreateOutcome.Accepted).ToList();
        var notEnded = Known.Where(c => !c.Rest!.Ended).Select(c => c.Call.Id).ToList();
        var acceptedUnknown = accepted.Where(c => c.Rest is null).Select(c => c.Call.Id).ToList();
        var gaps = Known.Where(c => !c.SequencesContiguous || c.Rest!.Ended && c.Rest.Events[^1].Type != "call.ended").Select(c => c.Call.Id).ToList();
        var lostHangups = Calls.Where(c => c.Call.HangupAcceptedAt is not null && c.Rest is not { Ended: true }).Select(c => c.Call.Id).ToList();
        var phonesUp = Phones.SelectMany(p => p.Up).Select(d => $"{d.Phone}:{d.CallId}").ToList();
        var checks = new List<SoakCheck>
        {
            new("Calls were placed and connected", accepted.Count > 0 && accepted.Any(c => c.Call.ConnectedAt is not null),
                $"{accepted.Count} accepted, {accepted.Count(c => c.Call.ConnectedAt is not null)} connected"),
            new("Every call a 202 was given for is known to the gateway", acceptedUnknown.Count == 0, List(acceptedUnknown)),
            new("Every call the gateway shows has ended on REST", notEnded.Count == 0, List(notEnded)),
            new("Every call's events are numbered 1..n without gaps, ending with call.ended", gaps.Count == 0, List(gaps)),
            new("No accepted hang-up was lost", lostHangups.Count == 0, List(lostHangups)),
            new("No dialog is left up on a phone", phonesUp.Count == 0, List(phonesUp)),
            // Each call rings each phone once: a retried create that placed a second call would show as one dialog too many.
            new("No call was placed twice", Phones.All(p => p.Dialogs.Count <= Calls.Count),
                string.Join(", ", Phones.Select(p => $"{p.Phone}: {p.Dialogs.Count} dialogs for {Calls.Count} calls"))),
        };
        foreach (var stream in Streams)
        {
            var missing = Known.Sum(c => stream.Name == "sse" ? c.SseMissing : c.SignalRMissing);
            // Which calls lost events, and the subscriptions' ranges: what a failure needs to be traced in the logs.
            var lossy = Known.Select(c => (c.Call.Id, Missing: stream.Name == "sse" ? c.SseMissing : c.SignalRMissing)).Where(c => c.Missing > 0)
                .Select(c => $"{c.Id} ×{c.Missing}").ToList();
            checks.Add(new($"{stream.Name}: every event delivered once, in order, no reset", missing == 0 && stream.Duplicates.Count == 0 &&
                stream.DisorderedCalls.Count == 0 && stream.ResetSnapshots == 0 && stream.Holes.Count == 0,
                $"{missing} missing, {stream.Duplicates.Count} duplicated, {stream.DisorderedCalls.Count} calls out of order, {stream.ResetSnapshots} resets, " +
                $"{stream.Holes.Count} holes in the log positions{(stream.Holes.Count > 0 ? $" ({string.Join("; ", stream.Holes.Take(5))})" : "")}" +
                (missing > 0 ? $"; missing in {List(lossy)}; subscriptions: {string.Join("; ", stream.Subscriptions)}" : "")));
        }
        checks.Add(new("No part exited by itself", UnexpectedExits.Count == 0, string.Join(", ", UnexpectedExits)));
        var shortOf = Rotation.Where(r => Faults.Count(f => f.Part == r.Part && f.Kind == r.Kind) < MinimumFaultsPerKind)
            .Select(r => $"{r.Part} {r.Kind}").ToList();
        checks.Add(new($"Every fault dealt at least {MinimumFaultsPerKind} times", shortOf.Count == 0, List(shortOf)));
        var neverReady = Faults.Where(f => f.ReadyAgain is null).Select(f => f.Name).ToList();
        checks.Add(new("The gateway was ready again after every fault", neverReady.Count == 0, List(neverReady)));
        return checks;
    }

    private static string List(IReadOnlyCollection<string> items) =>
        items.Count == 0 ? "none" : $"{items.Count}: {string.Join(", ", items.Take(20))}{(items.Count > 20 ? ", …" : "")}";

    /// <summary>The report as Markdown: the promises, then the figures behind them.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Soak run of {StartedAt:yyyy-MM-dd HH:mm} UTC: {LoadDuration.TotalMinutes:0.0} min of load and faults, " +
                           $"settled in {SettleDuration.TotalSeconds:0} s; load average {LoadAverageBefore:0.00} before; verdict **{(Passed ? "passed" : "FAILED")}**.");
        text.AppendLine();
        text.AppendLine("| Promise | Kept | Detail |");
        text.AppendLine("|---|---|---|");
        foreach (var check in Checks) text.AppendLine(c, $"| {check.Promise} | {(check.Kept ? "yes" : "**no**")} | {check.Detail} |");
        text.AppendLine();

        var calls = Calls.Select(o => o.Call).ToList();
        var accepted = calls.Where(x => x.Create == CreateOutcome.Accepted).ToList();
        text.AppendLine("| Calls | Count |");
        text.AppendLine("|---|---|");
        text.AppendLine(c, $"| placed (POST /calls, one Idempotency-Key each) | {calls.Count} |");
        text.AppendLine(c, $"| accepted (202) | {accepted.Count} |");
        text.AppendLine(c, $"| … of them after retries (503, gateway down or frozen) | {accepted.Count(x => x.CreateTries > 1)} |");
        text.AppendLine(c, $"| refused (4xx) | {calls.Count(x => x.Create == CreateOutcome.Refused)} {Codes(calls)} |");
        text.AppendLine(c, $"| given up by the client (no answer it could act on before its deadline) | {calls.Count(x => x.Create == CreateOutcome.GaveUp)} |");
        text.AppendLine(c, $"| connected | {accepted.Count(x => x.ConnectedAt is not null)} |");
        text.AppendLine(c, $"| hang-ups accepted (202) | {calls.Count(x => x.HangupAcceptedAt is not null)} |");
        text.AppendLine(c, $"| … of calls the client found up only after the load (gave up on the create, or stopped waiting) | {calls.Count(x => x.FoundLateAt is not null)} |");
        foreach (var reason in Known.Where(o => o.Rest!.Ended).GroupBy(o => o.Rest!.EndReason ?? "?").OrderByDescending(g => g.Count()))
            text.AppendLine(c, $"| ended: {reason.Key} | {reason.Count()} |");
        text.AppendLine();

        // The gateway's clock stamps endedAt, the client's the DELETE: one machine, one clock.
        var hangupToEnd = Known.Where(o => o.Call.HangupAcceptedAt is not null && o.Call.HangupSentAt is { } sent && o.Rest!.EndedAt is { } ended && ended >= sent)
            .Select(o => (o.Rest!.EndedAt!.Value - o.Call.HangupSentAt!.Value).TotalMilliseconds).Order().ToList();
        if (hangupToEnd.Count > 0)
            text.AppendLine(c, $"From the first DELETE to call.ended: p50 {Percentile(hangupToEnd, 0.5):0} ms, p99 {Percentile(hangupToEnd, 0.99):0} ms, max {hangupToEnd[^1]:0} ms ({hangupToEnd.Count} calls).");
        text.AppendLine();

        text.AppendLine("| Fault | Dealt | Part back after (s, median) | Gateway ready after the part was back (s): median / max | Next call connected after the part was back (s): median / max |");
        text.AppendLine("|---|---|---|---|---|");
        var connects = calls.Where(x => x.ConnectedAt is not null).Select(x => x.ConnectedAt!.Value).Order().ToList();
        foreach (var group in Faults.GroupBy(f => f.Name))
        {
            var back = group.Select(f => (f.Ended - f.Began).TotalSeconds).Order().ToList();
            var ready = group.Where(f => f.Recovery is not null).Select(f => f.Recovery!.Value.TotalSeconds).Order().ToList();
            var connected = group.Select(f => connects.FirstOrDefault(at => at > f.Ended) is var at && at != default ? (at - f.Ended).TotalSeconds : double.NaN)
                .Where(s => !double.IsNaN(s)).Order().ToList();
            text.AppendLine(c, $"| {group.Key} | {group.Count()} | {Percentile(back, 0.5):0.0} | {Range(ready)} | {Range(connected)} |");
        }
        text.AppendLine();

        text.AppendLine("| Stream | Connects | Events received | Missing | Duplicated | Out of order | Resets | Dropped notices |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var s in Streams)
            text.AppendLine(c, $"| {s.Name} | {s.Connects} | {s.Events} | {Known.Sum(o => s.Name == "sse" ? o.SseMissing : o.SignalRMissing)} | {s.Duplicates.Count} | {s.DisorderedCalls.Count} | {s.ResetSnapshots} | {s.DroppedNotices} |");
        text.AppendLine();

        text.AppendLine("| Phone | Dialogs | Established | Up at the end |");
        text.AppendLine("|---|---|---|---|");
        foreach (var p in Phones)
            text.AppendLine(c, $"| {p.Phone} | {p.Dialogs.Count} | {p.Dialogs.Values.Count(d => d.Established)} | {p.Up.Count()} |");
        text.AppendLine();

        text.AppendLine("| Process | Starts | RSS first sample | RSS last sample | RSS max |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var (part, (first, last, max)) in Memory)
            text.AppendLine(c, $"| {part} | {Starts.GetValueOrDefault(part)} | {Mib(first)} | {Mib(last)} | {Mib(max)} |");
        return text.ToString();
    }

    private static string Codes(IEnumerable<SoakCall> calls)
    {
        var codes = calls.Where(x => x.RefusedWith is not null).GroupBy(x => x.RefusedWith).Select(g => $"{g.Key} ×{g.Count()}").ToList();
        return codes.Count == 0 ? "" : $"({string.Join(", ", codes)})";
    }

    private static string Range(IReadOnlyList<double> sorted) =>
        sorted.Count == 0 ? "none" : string.Create(CultureInfo.InvariantCulture, $"{Percentile(sorted, 0.5):0.0} / {sorted[^1]:0.0}");

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0} MiB");

    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
