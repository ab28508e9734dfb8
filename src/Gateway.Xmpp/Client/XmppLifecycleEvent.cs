using System.Xml.Linq;

namespace Gateway.Xmpp.Client;

public enum ConnectionState
{
    /// <summary>Not started, or disposed.</summary>
    Disconnected,
    /// <summary>Making the first connection.</summary>
    Connecting,
    /// <summary>Stanzas flow.</summary>
    Established,
    /// <summary>The stream broke; reconnecting (and resuming, when XEP-0198 allows). Sends fail fast meanwhile.</summary>
    Reconnecting,
    /// <summary>Stopped for good: a <c>conflict</c>, an authentication failure, or another fault that retrying cannot fix.</summary>
    Failed,
}

public enum LifecycleKind
{
    /// <summary>A new session: server-side state (subscriptions bound to this resource, SM queue) starts fresh.</summary>
    Established,
    /// <summary>The stream broke and a transparent resume will be attempted. Pending IQs keep waiting.</summary>
    Suspended,
    /// <summary>XEP-0198 resumed the stream: nothing was lost, unacknowledged stanzas were re-sent.</summary>
    Resumed,
    /// <summary>The session is gone: pending IQs failed, <see cref="XmppLifecycleEvent.LostStanzas"/> were never acknowledged.</summary>
    Destroyed,
    /// <summary>The connection will not try again (<see cref="ConnectionState.Failed"/>).</summary>
    Failed,
}

/// <summary>A lifecycle signal, raised from the supervision task (never from the reader loop).</summary>
public sealed record XmppLifecycleEvent(LifecycleKind Kind, Exception? Reason = null, IReadOnlyList<XElement>? LostStanzas = null)
{
    public IReadOnlyList<XElement> Lost => LostStanzas ?? [];
}
