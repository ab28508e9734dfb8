using System.Net;
using Gateway.Soak.Stack;

namespace Gateway.Soak.Faults;

/// <summary>How faults are dealt: every part and kind in turn, a pause between two.</summary>
public sealed record FaultSettings
{
    /// <summary>The faults, dealt in this order, round and round.</summary>
    public IReadOnlyList<(StackPart Part, FaultKind Kind)> Rotation { get; init; } =
    [
        (StackPart.Prosody, FaultKind.Kill), (StackPart.Service, FaultKind.Kill), (StackPart.Gateway, FaultKind.Kill),
        (StackPart.Prosody, FaultKind.Freeze), (StackPart.Service, FaultKind.Freeze), (StackPart.Gateway, FaultKind.Freeze),
    ];

    /// <summary>Calm time before each fault.</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a killed part stays down before it is started again.</summary>
    public TimeSpan Down { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a part stays frozen (longer than the gateway's IQ timeout, so commands time out meanwhile).</summary>
    public TimeSpan Frozen { get; init; } = TimeSpan.FromSeconds(45);
}

/// <summary>Deals the faults of <see cref="FaultSettings.Rotation"/> in turn until stopped, and measures how long the
/// gateway takes to be ready again after each.</summary>
public sealed class FaultDealer(LocalStack stack, FaultSettings settings, TimeProvider time, TextWriter log)
{
    private readonly List<DealtFault> _dealt = [];

    public IReadOnlyList<DealtFault> Dealt => _dealt;

    public async Task RunAsync(CancellationToken stop)
    {
        for (var turn = 0; ; turn++)
        {
            try
            {
                await Task.Delay(settings.Pause, time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var (part, kind) = settings.Rotation[turn % settings.Rotation.Count];
            // Once begun, a fault is seen through (the part comes back) even when the run is told to stop.
            _dealt.Add(await DealAsync(part, kind));
            await log.WriteLineAsync($"{time.GetUtcNow():HH:mm:ss} {_dealt[^1].Name}: back after {(_dealt[^1].Ended - _dealt[^1].Began).TotalSeconds:0.0} s, " +
                                     $"gateway ready {_dealt[^1].Recovery?.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) ?? "never"} s later");
        }
    }

    private async Task<DealtFault> DealAsync(StackPart part, FaultKind kind)
    {
        var began = time.GetUtcNow();
        if (kind == FaultKind.Kill)
        {
            await stack.KillAsync(part);
            await Task.Delay(settings.Down, time);
            await stack.StartAsync(part, CancellationToken.None);
        }
        else
        {
            stack.Freeze(part);
            try
            {
                await Task.Delay(settings.Frozen, time);
            }
            finally
            {
                stack.Thaw(part);
            }
        }
        var ended = time.GetUtcNow();
        return new DealtFault(part, kind, began, ended, await WaitReadyAsync(TimeSpan.FromMinutes(2)));
    }

    private async Task<DateTimeOffset?> WaitReadyAsync(TimeSpan limit)
    {
        using var http = new HttpClient { BaseAddress = stack.GatewayUrl, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = time.GetUtcNow() + limit;
        while (time.GetUtcNow() < deadline)
        {
            try
            {
                if ((await http.GetAsync(new Uri("health/ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK) return time.GetUtcNow();
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), time);
        }
        return null;
    }
}
