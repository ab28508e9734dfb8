using System.Diagnostics;
using Gateway.Xmpp.Tracing;

namespace Gateway.Api.Hosting;

/// <summary>
/// The gateway's own spans, on the activity source <see cref="SourceName"/>, beside ASP.NET Core's HTTP server spans and the
/// XMPP library's command spans (<see cref="XmppTracing.SourceName"/>). A call keeps the W3C context of the request that
/// created it (<see cref="Calls.State.TrackedCall.TraceParent"/>, stored with the call), and what happens to it later is
/// parented to that context, so one call is one trace: <c>call.events.apply</c> (a PubSub item or retraction applied, with a
/// <c>call.event.published</c> span event per call event it published to the streams and webhooks), <c>call.hangup</c> /
/// <c>call.transfer</c> (an intent's attempt, linked to the request that asked for it) and <c>webhook.deliver</c> (one
/// attempt of one delivery). Attribute <c>activecalls.call_id</c> names the call.
/// </summary>
public static class GatewayTracing
{
    public const string SourceName = "Gateway.Api";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>The W3C <c>traceparent</c> of the current span, to keep with a call; null when nothing is traced.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? TraceContextElement.FormatTraceParent(current.Context) : null;

    /// <summary>Starts a span of the call whose stored context is <paramref name="traceParent"/> (its child; linked to the
    /// current span when that one belongs to another trace, such as the request asking for a hang-up). Null when nobody
    /// listens: nothing is allocated then.</summary>
    public static Activity? StartCallSpan(string name, ActivityKind kind, string callId, string? traceParent)
    {
        if (!Source.HasListeners()) return null;
        TraceContextElement.TryParseTraceParent(traceParent, null, out var parent);
        var current = Activity.Current;
        ActivityLink[]? links = parent != default && current is not null && current.TraceId != parent.TraceId ? [new ActivityLink(current.Context)] : null;
        var span = Source.StartActivity(name, kind, parent, links: links);
        span?.SetTag("activecalls.call_id", callId);
        return span;
    }
}
