using System.Diagnostics;

namespace Gateway.Xmpp.Tracing;

/// <summary>
/// The library's spans, on the activity source <see cref="SourceName"/>: one client span per ad-hoc command sent
/// (<see cref="AdHoc.AdHocCommandClient"/>). Attribute names (XMPP has no OpenTelemetry semantic conventions, so they
/// follow the RPC ones' shape): <c>rpc.system</c> = <c>xmpp</c>, <c>xmpp.iq.id</c> (the id of the IQ that was sent, the
/// last one if the pool resent it on another connection), <c>xmpp.to</c>, <c>xmpp.command.node</c>,
/// <c>xmpp.command.action</c>, <c>xmpp.command.status</c> (<c>completed</c>, <c>executing</c>, <c>canceled</c>) and, when
/// the IQ failed, <c>error.type</c>: the stanza error condition (e.g. <c>item-not-found</c>), <c>timeout</c> or the
/// exception's type.
/// </summary>
public static class XmppTracing
{
    public const string SourceName = "Gateway.Xmpp";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>Records the id of the IQ just written on the command span that sent it (nothing when no span is recording).</summary>
    internal static void TagIqId(string id)
    {
        if (Activity.Current is { Source: var source, IsAllDataRequested: true } span && ReferenceEquals(source, Source))
            span.SetTag("xmpp.iq.id", id);
    }
}
