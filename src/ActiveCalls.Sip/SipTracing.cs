using System.Collections.Concurrent;
using System.Diagnostics;

namespace ActiveCalls.Sip;

/// <summary>
/// The SIP stack's spans, on the activity source <see cref="SourceName"/>: one per transaction (RFC 3261 §17), named
/// <c>SIP {method}</c>, a client span for a request we send, a server span for one we receive. Attributes:
/// <c>sip.method</c>, <c>sip.call_id</c>, <c>sip.status_code</c> (the final response; a local 408/503 for a timeout or a
/// transport failure), <c>sip.retransmissions</c> (requests or responses sent again by the timers, and retransmitted
/// requests absorbed by a server transaction), <c>network.peer.address</c> and <c>network.peer.port</c>.
/// </summary>
public static class SipTracing
{
    public const string SourceName = "ActiveCalls.Sip";

    internal static readonly ActivitySource Source = new(SourceName);
}

/// <summary>
/// The trace each SIP Call-ID belongs to, so that requests the phones send on their own (a BYE when a party hangs up)
/// are traced in the call's trace although nothing of the call is running when they arrive. The call control engine
/// follows a call's dialogs while the call lives; transactions of other Call-IDs use the ambient context.
/// </summary>
public sealed class SipCallTraces
{
    private readonly ConcurrentDictionary<string, ActivityContext> _contexts = new(StringComparer.Ordinal);

    /// <summary>Transactions of <paramref name="callId"/> join <paramref name="context"/> (nothing when it is not valid or
    /// nobody listens).</summary>
    public void Follow(string callId, ActivityContext context)
    {
        if (context == default || !SipTracing.Source.HasListeners()) return;
        _contexts[callId] = context;
    }

    public void Forget(string callId) => _contexts.TryRemove(callId, out _);

    /// <summary>The context followed for <paramref name="callId"/>, else default (the ambient one).</summary>
    internal ActivityContext ParentFor(string? callId) =>
        callId is not null && !_contexts.IsEmpty && _contexts.TryGetValue(callId, out var context) ? context : default;
}
