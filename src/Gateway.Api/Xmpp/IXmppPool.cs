using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Api.Xmpp;

/// <summary>
/// The gateway's XMPP connections as one <see cref="IIqSender"/>: the seam tests replace with a scripted peer.
/// Started and stopped by <see cref="XmppPoolHostedService"/>; its <see cref="Health"/> is the readiness check.
/// </summary>
public interface IXmppPool : IIqSender
{
    PoolHealth Health { get; }

    /// <summary>A sentence for the readiness report: how many connections are up, or why none is.</summary>
    string Describe();

    /// <summary>Connects; throws when no connection could be made (the hosted service retries).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>The connection designated to hold the PubSub subscription, or null while none is established.</summary>
    IEventConnection? Receiver { get; }

    /// <summary>The receiver changed, or started a new session (its server-side subscription is gone): subscribe again.</summary>
    event EventHandler<EventReceiverChanged>? ReceiverChanged;
}
