using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.PubSub;

/// <summary>A PubSub request was redirected (<c>redirect</c>/<c>gone</c>) more often than <see cref="PubSubClient.MaxRedirects"/> allows.</summary>
public sealed class PubSubRedirectLimitException(PubSubAddress requested, IReadOnlyList<PubSubAddress> hops, XmppStanzaErrorException last)
    : XmppException($"PubSub request to {requested} was redirected more than {PubSubClient.MaxRedirects} times (last: {last.Error.ConditionText}).", last)
{
    /// <summary>Where the request was first sent.</summary>
    public PubSubAddress Requested { get; } = requested;

    /// <summary>The redirect targets that were followed, in order.</summary>
    public IReadOnlyList<PubSubAddress> Hops { get; } = hops;
}
