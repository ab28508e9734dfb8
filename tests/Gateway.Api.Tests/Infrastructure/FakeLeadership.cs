using Gateway.Api.Replicas;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>A lease the test grants and revokes: stands in for <see cref="RedisLeaseLeadership"/> in unit tests.</summary>
public sealed class FakeLeadership(bool leader, string replicaId = "replica-a") : IReplicaLeadership
{
    private readonly Lock _gate = new();
    private TaskCompletionSource<CancellationToken> _elected = NewElection();
    private CancellationTokenSource? _term = leader ? new CancellationTokenSource() : null;

    public string ReplicaId { get; } = replicaId;

    public string? LeaderId { get; set; } = leader ? replicaId : "replica-b";

    public bool IsLeader
    {
        get { lock (_gate) return _term is not null; }
    }

    public Task<CancellationToken> WhenLeaderAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return _term is { } term ? Task.FromResult(term.Token) : _elected.Task.WaitAsync(cancellationToken);
    }

    public void Grant()
    {
        TaskCompletionSource<CancellationToken> elected;
        lock (_gate)
        {
            if (_term is not null) return;
            _term = new CancellationTokenSource();
            elected = _elected;
            LeaderId = ReplicaId;
        }
        elected.TrySetResult(_term.Token);
    }

    public void Revoke(string newLeader = "replica-b")
    {
        CancellationTokenSource? term;
        lock (_gate)
        {
            term = _term;
            _term = null;
            _elected = NewElection();
            LeaderId = newLeader;
        }
        term?.Cancel();
    }

    private static TaskCompletionSource<CancellationToken> NewElection() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
