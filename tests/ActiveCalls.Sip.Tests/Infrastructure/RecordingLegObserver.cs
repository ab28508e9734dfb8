using ActiveCalls.Sip.CallControl;

namespace ActiveCalls.Sip.Tests.Infrastructure;

/// <summary>One engine report: an update (<see cref="End"/> null) or a retract.</summary>
internal sealed record LegEvent(CallLeg Leg, LegEnd? End)
{
    public bool IsRetract => End is not null;

    /// <summary>"requested alice@127.0.0.1", "confirmed …", "retract …" — for order assertions.</summary>
    public string Short => $"{(IsRetract ? "retract" : Leg.State.ToString().ToLowerInvariant())} {Leg.OwnerAddress}";
}

/// <summary>Records what the engine reports, in order, and lets a test wait for a condition on it.</summary>
internal sealed class RecordingLegObserver : ICallLegObserver
{
    private readonly List<LegEvent> _events = [];

    public IReadOnlyList<LegEvent> Events
    {
        get
        {
            lock (_events) return _events.ToList();
        }
    }

    public Task LegUpdatedAsync(CallLeg leg, CancellationToken cancellationToken)
    {
        lock (_events) _events.Add(new LegEvent(leg, null));
        return Task.CompletedTask;
    }

    public Task LegEndedAsync(CallLeg leg, LegEnd end, CancellationToken cancellationToken)
    {
        lock (_events) _events.Add(new LegEvent(leg, end));
        return Task.CompletedTask;
    }

    /// <summary>Item ids published and not retracted.</summary>
    public IReadOnlyList<string> LiveItems()
    {
        var live = new List<string>();
        foreach (var e in Events)
        {
            if (e.IsRetract) live.Remove(e.Leg.ItemId);
            else if (!live.Contains(e.Leg.ItemId)) live.Add(e.Leg.ItemId);
        }
        return live;
    }

    public async Task<IReadOnlyList<LegEvent>> WaitForAsync(Func<IReadOnlyList<LegEvent>, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            var events = Events;
            if (condition(events)) return events;
            await Task.Delay(20);
        }
        Assert.Fail($"Timed out waiting for {what}. Events:\n{string.Join("\n", Events.Select(e => e.Short + " " + e.Leg + " " + e.End))}");
        return [];
    }
}
