namespace Gateway.Api.Webhooks;

/// <summary>
/// When a failed delivery is tried again: after the n-th failed attempt, the n-th delay of the schedule scaled by a
/// random factor in [1 - jitter, 1 + jitter]; a longer Retry-After from the endpoint (429, 503) is honoured up to the
/// schedule's longest delay. The first attempt is immediate, so there are <see cref="MaxAttempts"/> = delays + 1.
/// </summary>
public sealed class WebhookRetryPolicy
{
    private readonly IReadOnlyList<TimeSpan> _delays;
    private readonly double _jitter;
    private readonly Random _random;
    private readonly TimeSpan _longest;

    /// <param name="random">Used from concurrent attempts: <see cref="Random.Shared"/>, or a seeded one in single-threaded tests.</param>
    public WebhookRetryPolicy(IReadOnlyList<TimeSpan> delays, double jitter, Random random)
    {
        ArgumentNullException.ThrowIfNull(delays);
        _delays = delays;
        _jitter = jitter;
        _random = random;
        _longest = delays.Count == 0 ? TimeSpan.Zero : delays.Max();
    }

    public int MaxAttempts => _delays.Count + 1;

    /// <summary>The wait before the next attempt after <paramref name="attemptsMade"/> attempts failed; null when they are used up.</summary>
    public TimeSpan? DelayAfter(int attemptsMade, TimeSpan? retryAfter = null)
    {
        if (attemptsMade < 1 || attemptsMade >= MaxAttempts) return null;
        var nominal = _delays[attemptsMade - 1];
        var delay = nominal * (1 + _jitter * (2 * _random.NextDouble() - 1));
        if (retryAfter is { } asked && asked > delay) delay = asked < _longest ? asked : _longest;
        return delay;
    }
}
