namespace Gateway.Api.Replicas;

/// <summary>The embedded store's leadership: one process, always the holder.</summary>
public sealed class SingleReplicaLeadership(string replicaId) : IReplicaLeadership
{
    public string ReplicaId { get; } = replicaId;

    public string? LeaderId => ReplicaId;

    public bool IsLeader => true;

    public Task<CancellationToken> WhenLeaderAsync(CancellationToken cancellationToken) => Task.FromResult(CancellationToken.None);
}
