namespace ActiveCalls.Sip.Transactions;

/// <summary>RFC 3261 §17 / Table 4 timer values. Tests may shrink them.</summary>
public sealed class SipTimerOptions
{
    /// <summary>RTT estimate (default 500 ms).</summary>
    public TimeSpan T1 { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest non-INVITE retransmit interval (default 4 s).</summary>
    public TimeSpan T2 { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest time a message stays in the network (default 5 s).</summary>
    public TimeSpan T4 { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Timer D, the wait for final-response retransmissions in a completed client INVITE transaction
    /// (RFC 3261: at least 32 s over UDP).</summary>
    public TimeSpan TimerD { get; set; } = TimeSpan.FromSeconds(32);

    /// <summary>64·T1: Timers B, F, H, J and the UAS 2xx retransmission limit.</summary>
    public TimeSpan TransactionTimeout => T1 * 64;
}
