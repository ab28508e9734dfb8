namespace Gateway.Api.Replicas;

/// <summary>
/// Which replica holds the upstream side that must exist once: the PubSub subscription and the authorisations, the call
/// deadlines, the command intents' retries and the webhook deliveries. One process alone always holds it; replicas on
/// Redis elect one with a lease.
/// </summary>
public interface IReplicaLeadership
{
    /// <summary>This replica's name (<c>Gateway:Xmpp:InstanceName</c>, else the machine name).</summary>
    string ReplicaId { get; }

    /// <summary>The replica that holds the lease as last seen (null: nobody, or not known yet).</summary>
    string? LeaderId { get; }

    bool IsLeader { get; }

    /// <summary>Completes with a token that is cancelled when this replica loses the lease (or stops); waits until it
    /// holds the lease.</summary>
    Task<CancellationToken> WhenLeaderAsync(CancellationToken cancellationToken);
}
