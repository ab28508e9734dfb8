namespace Gateway.Xmpp.Client;

/// <summary>Decorrelated-jitter backoff: each delay is random between the base and three times the previous one,
/// capped. Spreads a pool's reconnects after a server restart instead of stampeding.</summary>
public sealed class ReconnectBackoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly Random _random;
    private TimeSpan _previous;

    public ReconnectBackoff(TimeSpan initial, TimeSpan max, Random? random = null)
    {
        _initial = initial;
        _max = max < initial ? initial : max;
        _random = random ?? Random.Shared;
        _previous = initial;
    }

    public TimeSpan Next()
    {
        var upper = Math.Min(_max.TotalMilliseconds, Math.Max(_initial.TotalMilliseconds, _previous.TotalMilliseconds * 3));
        var delay = TimeSpan.FromMilliseconds(_initial.TotalMilliseconds + _random.NextDouble() * (upper - _initial.TotalMilliseconds));
        _previous = delay;
        return delay;
    }

    public void Reset() => _previous = _initial;
}
