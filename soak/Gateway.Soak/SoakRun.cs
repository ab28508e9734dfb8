using System.Globalization;
using Gateway.Soak.Faults;
using Gateway.Soak.Load;
using Gateway.Soak.Report;
using Gateway.Soak.Stack;
using Gateway.Soak.Streams;

namespace Gateway.Soak;

/// <summary>
/// One soak run: starts the stack, connects an SSE and a SignalR observer, places calls while the faults are dealt,
/// then stops the load, waits for everything to settle, and checks every call on REST, on both streams and on the
/// phones.
/// </summary>
public static class SoakRun
{
    private static readonly TimeSpan SettlePoll = TimeSpan.FromSeconds(2);

    public static async Task<SoakReport> RunAsync(SoakOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        var loadAverage = LoadAverage();
        var startedAt = time.GetUtcNow();
        await log.WriteLineAsync($"{startedAt:HH:mm:ss} starting the stack in {options.StateDirectory} (load average {loadAverage:0.00})");
        var settings = new StackSettings
        {
            RepositoryRoot = options.RepositoryRoot,
            StateDirectory = options.StateDirectory,
            GatewayDll = options.GatewayDll,
            ServiceDll = options.ServiceDll,
            // The soak's one client makes far more requests than a per-key limit for production allows.
            GatewaySettings = new Dictionary<string, string>
            {
                ["Gateway:Http:RequestsPerSecond"] = "2000",
                ["Gateway:Http:Burst"] = "2000",
                ["Gateway:Http:ConcurrentRequestsPerKey"] = "256",
            }.Concat(options.GatewaySettings).GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.Last().Value),
        };
        await using var stack = await LocalStack.StartAsync(settings, log, cancellationToken);
        await using var sse = new SseObserver(stack.GatewayUrl, stack.ApiKey);
        await using var signalR = new SignalRObserver(stack.GatewayUrl, stack.ApiKey);
        sse.Start();
        signalR.Start();
        // Both streams subscribed before the first call: a call's events committed before a stream's snapshot would show
        // in the snapshot, not as events, and count as missing from that stream.
        await Task.WhenAll(sse.Ledger.FirstSubscription, signalR.Ledger.FirstSubscription).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);

        var memory = new MemorySampler(stack, time);
        var driver = new CallDriver(stack.GatewayUrl, stack.ApiKey, "sip:" + LocalStack.Alice, "sip:" + LocalStack.Bob, options.Driver, time);
        var dealer = new FaultDealer(stack, options.Faults, time, log);
        using var stopLoad = new CancellationTokenSource(options.Duration);
        using var stopSampling = new CancellationTokenSource();
        var sampling = memory.RunAsync(TimeSpan.FromSeconds(5), stopSampling.Token);
        var loadStarted = time.GetUtcNow();
        await log.WriteLineAsync($"{loadStarted:HH:mm:ss} stack up at {stack.GatewayUrl}; placing calls for {options.Duration.TotalMinutes:0.0} min with {options.Driver.Workers} workers");
        var load = driver.RunAsync(stopLoad.Token, cancellationToken);
        await dealer.RunAsync(stopLoad.Token);
        await load;
        var loadDuration = time.GetUtcNow() - loadStarted;
        await log.WriteLineAsync($"{time.GetUtcNow():HH:mm:ss} load stopped after {driver.Calls.Count} calls; settling");

        using var view = new GatewayView(stack.GatewayUrl, stack.ApiKey);
        var settleStarted = time.GetUtcNow();
        var outcomes = await SettleAsync(options, stack, view, driver, sse.Ledger, signalR.Ledger, log, cancellationToken);
        var settleDuration = time.GetUtcNow() - settleStarted;
        memory.Sample();
        await stopSampling.CancelAsync();
        await sampling;

        return new SoakReport
        {
            StartedAt = startedAt,
            LoadDuration = loadDuration,
            SettleDuration = settleDuration,
            LoadAverageBefore = loadAverage,
            Calls = outcomes,
            Faults = dealer.Dealt,
            Streams = [sse.Ledger, signalR.Ledger],
            Phones = [.. stack.Phones.Select(p => p.Read())],
            Memory = memory.Summary(),
            Starts = stack.Starts.ToDictionary(),
            UnexpectedExits = [.. stack.Exited()],
            MinimumFaultsPerKind = options.MinimumFaultsPerKind,
            Rotation = options.Faults.Rotation,
        };
    }

    /// <summary>Reads every call until all have ended everywhere (REST, both streams, the phones) or the settle time is up;
    /// returns the last reading.</summary>
    private static async Task<IReadOnlyList<CallOutcome>> SettleAsync(SoakOptions options, LocalStack stack, GatewayView view, CallDriver driver,
        StreamLedger sse, StreamLedger signalR, TextWriter log, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + options.SettleTimeout;
        while (true)
        {
            var phones = stack.Phones.Select(p => p.Read()).ToList();
            var dialogs = phones.SelectMany(p => p.Dialogs.Values).GroupBy(d => d.CallId).ToDictionary(g => g.Key, g => g.ToList());
            var outcomes = new List<CallOutcome>();
            foreach (var call in driver.Calls)
            {
                var rest = await view.ReadAsync(call.Id, cancellationToken);
                outcomes.Add(new CallOutcome(call, rest,
                    rest?.Events.Count(e => !sse.Has(call.Id, e.Sequence)) ?? 0,
                    rest?.Events.Count(e => !signalR.Has(call.Id, e.Sequence)) ?? 0,
                    [.. (rest?.SipCallIds ?? []).SelectMany(id => dialogs.GetValueOrDefault(id) ?? [])]));
            }
            foreach (var outcome in outcomes.Where(o => o.Rest is { Ended: false } && o.Call.HangupAcceptedAt is null))
                await driver.HangUpFoundAsync(outcome.Call, cancellationToken);
            var settled = outcomes.All(o => o.Rest is null or { Ended: true } && o.SseMissing == 0 && o.SignalRMissing == 0) &&
                          phones.All(p => !p.Up.Any());
            if (settled || DateTimeOffset.UtcNow > deadline)
            {
                await log.WriteLineAsync($"{DateTimeOffset.UtcNow:HH:mm:ss} {(settled ? "settled" : "settle time over")}: " +
                                         $"{outcomes.Count(o => o.Rest is { Ended: false })} calls not ended, {phones.Sum(p => p.Up.Count())} dialogs up on phones");
                return outcomes;
            }
            await Task.Delay(SettlePoll, cancellationToken);
        }
    }

    private static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
