using Gateway.Xmpp.ActiveCalls;

namespace ActiveCalls.Service.CallControl;

/// <summary>
/// Where the engine reports call legs. Each leg is one item on the leaf node of the SIP address it belongs to
/// (<c>/domain/user</c>); the item id is opaque and stable for one call at one user agent.
/// </summary>
public interface IActiveCallsPublisher
{
    /// <summary>Publishes (or re-publishes, e.g. <c>confirmed</c>) a leg. <paramref name="sipAddress"/> is <c>user@domain</c>.</summary>
    Task PublishAsync(string sipAddress, string itemId, ActiveCallItem item, CancellationToken cancellationToken);

    /// <summary>Ends a leg: the item is retracted and subscribers are notified.</summary>
    Task RetractAsync(string sipAddress, string itemId, CancellationToken cancellationToken);
}
