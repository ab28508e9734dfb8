namespace Gateway.Xmpp.Client;

/// <summary>Decorrelated-jitter backoff: each delay is random between the base and three times the previous one,
/// capped. Spreads a pool's reconnects after a server restart instead of stampeding.</summary>
public sealed class ReconnectBackoff(TimeSpan initial, TimeSpan max, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private TimeSpan _previous = initial;

    public TimeSpan Next()
    {
        var upper = Math.Min(max.TotalMilliseconds, Math.Max(initial.TotalMilliseconds, _previous.TotalMilliseconds * 3));
        var delay = TimeSpan.FromMilliseconds(initial.TotalMilliseconds + _random.NextDouble() * (upper - initial.TotalMilliseconds));
        _previous = delay;
        return delay;
    }

    public void Reset() => _previous = initial;
}
