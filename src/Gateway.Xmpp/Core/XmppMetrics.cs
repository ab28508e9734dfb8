using System.Diagnostics.Metrics;

namespace Gateway.Xmpp.Core;

/// <summary>The library's instruments, on the meter <see cref="MeterName"/> (collect it with OpenTelemetry or
/// <c>dotnet-counters</c>).</summary>
public static class XmppMetrics
{
    public const string MeterName = "Gateway.Xmpp";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Inbound stanzas dropped unread or unused, tagged <c>reason</c>: <c>limit</c> (past a
    /// <see cref="Framing.StanzaLimits"/> limit) or <c>unhandled</c> (nobody here consumes it: strangers' messages, forged
    /// events, late replies are counted by <see cref="Iq.IqTracker.UnmatchedReplies"/> instead).</summary>
    internal static readonly Counter<long> DroppedStanzas = Meter.CreateCounter<long>(
        "xmpp.stanzas.dropped", unit: "{stanza}", description: "Inbound stanzas dropped: past a size/shape limit, or consumed by nothing.");

    /// <summary>Streams re-established after they broke, tagged <c>resumed</c>: true when XEP-0198 resumed the session
    /// (nothing lost), false when a new session replaced it (subscriptions bound to the old one are gone).</summary>
    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>(
        "xmpp.connection.reconnects", unit: "{reconnect}", description: "XMPP streams re-established after a break.");
}
