using System.Diagnostics;

namespace ActiveCalls.Service;

/// <summary>
/// The service's spans, on the activity source <see cref="SourceName"/>: a server span per ad-hoc command handled
/// (<c>xmpp.command {node}</c>, parented to the W3C context the requester put inside the <c>&lt;command/&gt;</c>, see
/// <see cref="Gateway.Xmpp.Tracing.TraceContextElement"/>) and a producer span per PubSub publish or retract of a leg
/// (<c>pubsub.publish</c>, <c>pubsub.retract</c>). The SIP transactions have their own source,
/// <see cref="ActiveCalls.Sip.SipTracing.SourceName"/>.
/// </summary>
public static class ServiceTracing
{
    public const string SourceName = "ActiveCalls.Service";

    internal static readonly ActivitySource Source = new(SourceName);
}
