using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.Replicas;

/// <summary>
/// Elects the subscription holder among replicas with one Redis key: <c>SET lease token NX PX</c> takes it, a holder
/// renews it every third of <see cref="RedisOptions.LeaseTime"/> (only while the key still holds its own token), and a
/// holder that could not renew for two thirds of the lease steps down before anyone else can take it, so two holders
/// never overlap while the clocks run at the same rate. A replica that stops releases the lease at once.
/// </summary>
public sealed class RedisLeaseLeadership : BackgroundService, IReplicaLeadership
{
    private const string RenewScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

    private readonly RedisConnection _redis;
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisLeaseLeadership> _logger;
    private readonly string _token;
    private readonly Lock _gate = new();
    private TaskCompletionSource<CancellationToken> _elected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _term;
    private DateTimeOffset _renewedAt;
    private volatile string? _leaderId;

    public RedisLeaseLeadership(RedisConnection redis, IOptions<RedisOptions> options, ReplicaIdentity identity, TimeProvider time,
        ILogger<RedisLeaseLeadership> logger)
    {
        _redis = redis;
        _options = options.Value;
        _time = time;
        _logger = logger;
        ReplicaId = identity.Id;
        // The replica's name for people, and a nonce: two processes given the same name still never share the lease.
        _token = $"{ReplicaId} {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
    }

    public string ReplicaId { get; }

    public string? LeaderId => _leaderId;

    public bool IsLeader
    {
        get { lock (_gate) return _term is not null; }
    }

    public async Task<CancellationToken> WhenLeaderAsync(CancellationToken cancellationToken)
    {
        Task<CancellationToken> elected;
        lock (_gate) elected = _elected.Task;
        return await elected.WaitAsync(cancellationToken);
    }

    private RedisKey LeaseKey => _redis.Key("lease:subscription");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = _options.LeaseTime / 3;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RoundAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Whatever went wrong, the loop goes on: a holder that cannot renew steps down below, in time.
                _logger.LogWarning("Could not reach Redis for the subscription lease: {Message}", e.Message);
                _leaderId = null;
            }
            StepDownIfExpired();
            try
            {
                await Task.Delay(period, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RoundAsync()
    {
        var db = await _redis.DatabaseAsync();
        var leaseMs = (long)_options.LeaseTime.TotalMilliseconds;
        if (IsLeader)
        {
            var renewed = (long)await db.ScriptEvaluateAsync(RenewScript, [LeaseKey], [_token, leaseMs]);
            if (renewed == 1)
            {
                lock (_gate) _renewedAt = _time.GetUtcNow();
                _leaderId = ReplicaId;
                return;
            }
            _logger.LogWarning("Replica {Replica} lost the subscription lease (another replica holds it now)", ReplicaId);
            StepDown();
        }
        var startedAt = _time.GetUtcNow();
        if (await db.StringSetAsync(LeaseKey, _token, _options.LeaseTime, When.NotExists))
        {
            lock (_gate)
            {
                _renewedAt = startedAt;
                _term = new CancellationTokenSource();
                _elected.TrySetResult(_term.Token);
            }
            _leaderId = ReplicaId;
            _logger.LogInformation("Replica {Replica} holds the subscription lease now", ReplicaId);
            return;
        }
        var holder = (string?)await db.StringGetAsync(LeaseKey);
        _leaderId = holder?.Split(' ')[0];
    }

    /// <summary>A holder that could not renew for two thirds of the lease gives it up before it could expire in Redis.</summary>
    private void StepDownIfExpired()
    {
        bool expired;
        lock (_gate) expired = _term is not null && _time.GetUtcNow() - _renewedAt > _options.LeaseTime * 2 / 3;
        if (!expired) return;
        _logger.LogWarning("Replica {Replica} could not renew the subscription lease in time and steps down", ReplicaId);
        StepDown();
    }

    private void StepDown()
    {
        CancellationTokenSource? term;
        lock (_gate)
        {
            term = _term;
            _term = null;
            if (term is not null) _elected = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        _leaderId = null;
        if (term is null) return;
        term.Cancel();
        term.Dispose();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (!IsLeader) return;
        StepDown();
        try
        {
            var db = await _redis.DatabaseAsync();
            await db.ScriptEvaluateAsync(ReleaseScript, [LeaseKey], [_token]);
            _logger.LogInformation("Replica {Replica} released the subscription lease", ReplicaId);
        }
        catch (Exception e)
        {
            _logger.LogWarning("Could not release the subscription lease (it expires by itself): {Message}", e.Message);
        }
    }
}
