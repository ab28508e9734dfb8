using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Iq;

public enum IqType { Get, Set }

/// <summary>
/// The seam every extension (ad-hoc commands, PubSub, disco…) is written against, so it can be tested with a scripted
/// fake and reused over client and component streams alike.
/// </summary>
public interface IIqSender
{
    /// <summary>The address this sender's stanzas come from (the bound full JID or the component JID), once known.</summary>
    Jid? LocalJid { get; }

    /// <summary>
    /// Sends <c>&lt;iq type=get|set to=…&gt;payload&lt;/iq&gt;</c> and returns the <c>type="result"</c> reply stanza.
    /// </summary>
    /// <exception cref="XmppStanzaErrorException">the peer answered <c>type="error"</c>.</exception>
    /// <exception cref="XmppIqTimeoutException">no reply in time (the sender's default, or sooner if <paramref name="timeout"/> says so).</exception>
    /// <exception cref="XmppConnectionLostException">the stream was lost before a reply arrived.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default);
}
