using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.PubSub;

/// <summary>The stanza errors of this PubSub service, with XEP-0060's <c>pubsub#errors</c> application conditions where
/// XEP-0060 defines one for the case.</summary>
public static class PubSubErrors
{
    private static StanzaError WithPubSub(StanzaErrorType type, string condition, string application, string? text) =>
        new(type, condition, text, Ns.PubSubErrors + application);

    /// <summary>§6.1.3.1: the subscription's <c>jid</c> is not the requester's (bare JIDs compared).</summary>
    public static StanzaError InvalidJid(string? text = null) => WithPubSub(StanzaErrorType.Modify, "bad-request", "invalid-jid", text);

    /// <summary>§6.1.3.9 Too Many Subscriptions (XEP-0060 types it <c>wait</c>).</summary>
    public static StanzaError TooManySubscriptions(string? text = null) =>
        WithPubSub(StanzaErrorType.Wait, "policy-violation", "too-many-subscriptions", text);

    /// <summary>§6.3.5/§6.1.3: the submitted subscription options cannot be applied.</summary>
    public static StanzaError InvalidOptions(string? text = null) => WithPubSub(StanzaErrorType.Modify, "bad-request", "invalid-options", text);

    /// <summary>The request names no node where one is needed.</summary>
    public static StanzaError NodeIdRequired() => WithPubSub(StanzaErrorType.Modify, "bad-request", "nodeid-required", null);

    /// <summary>§6.2.3.2/§6.3.4: several subscriptions match and no <c>subid</c> says which.</summary>
    public static StanzaError SubIdRequired() => WithPubSub(StanzaErrorType.Modify, "bad-request", "subid-required", null);

    /// <summary>§6.2.3.5: the <c>subid</c> names no subscription of this JID on this node.</summary>
    public static StanzaError InvalidSubId() => WithPubSub(StanzaErrorType.Modify, "not-acceptable", "invalid-subid", null);

    /// <summary>§6.2.3.4/§6.3.4: the JID has no subscription to the node.</summary>
    public static StanzaError NotSubscribed() => WithPubSub(StanzaErrorType.Cancel, "unexpected-request", "not-subscribed", null);

    /// <summary>The service does not offer <paramref name="feature"/>. XEP-0060 adds <c>&lt;unsupported feature=…/&gt;</c>, whose
    /// required attribute <see cref="StanzaError"/> cannot carry, so the feature is named in the text instead.</summary>
    public static StanzaError Unsupported(string feature) =>
        new(StanzaErrorType.Cancel, "feature-not-implemented", $"This service does not support '{feature}'.");

    /// <summary>The requester may not see or subscribe to the node.</summary>
    public static StanzaError Forbidden(string text) => new(StanzaErrorType.Auth, "forbidden", text);

    public static StanzaError NodeNotFound(string? node) => StanzaError.ItemNotFound(node is null ? null : $"No node '{node}' here.");

    /// <summary>RFC 6120 §8.3.3.14 <c>redirect</c> (type <c>modify</c>: the requester should re-send to the new address),
    /// the new address as an XEP-0147 URI in the condition's text, as OXJS reads it.</summary>
    public static StanzaError Redirect(PubSubAddress target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return new StanzaError(StanzaErrorType.Modify, "redirect", ConditionText: target.ToXmppUri());
    }
}
