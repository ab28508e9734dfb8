namespace Gateway.Xmpp.Iq;

/// <summary>
/// One connection as an event consumer (a PubSub subscriber) uses it, and nothing more: <see cref="IIqSender.LocalJid"/>
/// is its bound full JID (the subscriber), <see cref="IIqSender.SendIqAsync"/> sends on that very connection, and
/// <see cref="IStanzaSource.Subscribe"/> hands over the messages it receives through a bounded channel, never on the
/// reader loop (read with a cancellation token; dispose the subscription to stop). Implemented by
/// <see cref="Client.XmppConnection"/>; <see cref="Pool.XmppClientPool.Receiver"/> is one.
/// </summary>
public interface IEventConnection : IIqSender, IStanzaSource;
