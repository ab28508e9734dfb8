using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>A <c>Session-Expires</c> value (RFC 4028 §4): delta-seconds and the optional <c>refresher</c>, which names
/// the UAC or UAS <em>of the transaction that carries it</em>.</summary>
internal readonly record struct SessionExpiresValue(int Seconds, string? Refresher)
{
    public const string HeaderName = "Session-Expires", MinSEHeader = "Min-SE", OptionTag = "timer";

    public static SessionExpiresValue? From(SipMessage message) =>
        message.Headers[HeaderName] is { } value && ParseDelta(value, out var parameters) is int seconds
            ? new SessionExpiresValue(seconds, parameters.FirstOrDefault(p => p.Name.Equals("refresher", StringComparison.OrdinalIgnoreCase))?.Value?.ToLowerInvariant())
            : null;

    /// <summary>The <c>Min-SE</c> of <paramref name="message"/> (a 422's, or a request's).</summary>
    public static int? MinSE(SipMessage message) => message.Headers[MinSEHeader] is { } value ? ParseDelta(value, out _) : null;

    /// <summary>True when the message lists the <c>timer</c> option tag in <paramref name="header"/> (Supported, Require).</summary>
    public static bool Lists(SipMessage message, string header) =>
        message.Headers.GetValues(header).Any(v => v.Trim().Equals(OptionTag, StringComparison.OrdinalIgnoreCase));

    public override string ToString() =>
        Seconds.ToString(CultureInfo.InvariantCulture) + (Refresher is null ? "" : ";refresher=" + Refresher);

    private static int? ParseDelta(string value, out IReadOnlyList<SipParameter> parameters)
    {
        var parts = value.Split(';');
        parameters = parts.Skip(1).Select(p => p.Split('=', 2)).Select(kv => new SipParameter(kv[0].Trim(), kv.Length > 1 ? kv[1].Trim() : null)).ToList();
        return int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;
    }
}

/// <summary>The headers with which we offer or repeat a session timer on an INVITE or UPDATE (RFC 4028 §7.1, §7.4).</summary>
internal static class SessionTimerHeaders
{
    public static void Add(SipRequest request, int interval, string refresher, int minSE)
    {
        request.Headers.Set("Supported", SessionExpiresValue.OptionTag);
        request.Headers.Set(SessionExpiresValue.HeaderName, new SessionExpiresValue(interval, refresher).ToString());
        request.Headers.Set(SessionExpiresValue.MinSEHeader, minSE.ToString(CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// One dialog's session timer (RFC 4028 §10) on the stack's <see cref="TimeProvider"/>. As the refresher it fires
/// at half the interval (the dialog then refreshes); otherwise at the interval minus min(32 s, interval/3), when the
/// far end's refresh is overdue (the dialog then sends BYE). <see cref="Stop"/> is final: a stopped timer is never
/// re-armed, so an ended dialog leaves nothing scheduled.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "Stop() ends its life: it cancels and disposes the source; every dialog end calls it.")]
internal sealed class SessionTimer(SipUserAgent ua, Func<bool, CancellationToken, Task> fired)
{
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _timer;
    private bool _stopped;

    /// <summary>The negotiated session interval in seconds.</summary>
    public int Interval { get; private set; }

    /// <summary>True when we send the refreshes; false when the far end does and we only watch for them.</summary>
    public bool WeRefresh { get; private set; }

    /// <summary>Refresh attempts that met a 491 or a 422 since the last success (they are retried).</summary>
    public int Retries { get; set; }

    /// <summary>Records the outcome of a negotiation without starting the clock (before the initial ACK).</summary>
    public void Set(int interval, bool weRefresh)
    {
        lock (_gate)
        {
            Interval = interval;
            WeRefresh = weRefresh;
        }
    }

    /// <summary>Starts (or restarts: a refresh succeeded) the clock for <paramref name="interval"/>.</summary>
    public void Arm(int interval, bool weRefresh)
    {
        lock (_gate)
        {
            Interval = interval;
            WeRefresh = weRefresh;
            Retries = 0;
            var due = weRefresh
                ? TimeSpan.FromSeconds(interval / 2.0)
                : TimeSpan.FromSeconds(interval - Math.Min(32.0, interval / 3.0));
            Schedule(due);
        }
    }

    /// <summary>Arms with the values last <see cref="Set"/>.</summary>
    public void Arm()
    {
        int interval;
        bool weRefresh;
        lock (_gate) (interval, weRefresh) = (Interval, WeRefresh);
        Arm(interval, weRefresh);
    }

    /// <summary>Fires the refresh again after <paramref name="delay"/> (491 back-off, 422 retry).</summary>
    public void RetryIn(TimeSpan delay)
    {
        lock (_gate) Schedule(delay);
    }

    public bool IsRunning
    {
        get
        {
            lock (_gate) return _timer is not null;
        }
    }

    public void Stop()
    {
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            if (_timer is not null)
            {
                _timer.Dispose();
                _timer = null;
                Interlocked.Decrement(ref ua.SessionTimersRunning);
            }
        }
        _stopping.Cancel(); // a refresh in flight sees its token cancelled (a cancelled token stays usable after Dispose)
        _stopping.Dispose();
    }


    private void Schedule(TimeSpan due)
    {
        if (_stopped) return;
        if (_timer is null)
        {
            _timer = ua.Transactions.Time.CreateTimer(_ => OnFired(), null, due, Timeout.InfiniteTimeSpan);
            Interlocked.Increment(ref ua.SessionTimersRunning);
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnFired()
    {
        bool weRefresh;
        CancellationToken token;
        lock (_gate)
        {
            if (_stopped) return;
            weRefresh = WeRefresh;
            token = _stopping.Token;
        }
        _ = fired(weRefresh, token);
    }
}
