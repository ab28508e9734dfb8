using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>
/// With replicas (<c>Gateway:Calls:Store=Redis</c>): keeps this replica's <see cref="FollowedUsers"/> in step with the
/// others. Each round reloads the team from the shared store (another replica may have added, re-passworded or removed a
/// user: the subscription holder then authorises them), then, on the subscription holder, puts its statuses up on the
/// <see cref="RedisFollowedUserStatusBoard"/>, or elsewhere adopts the holder's from there. A round runs at each ring of
/// <see cref="Bell"/> (the team or the holder's statuses changed), at each status change here, and every
/// <see cref="Period"/> at the latest: in case a ring was lost, and to keep the board from expiring.
/// </summary>
internal sealed class FollowedUsersReplication(
    FollowedUsers followed,
    RedisFollowedUserStatusBoard board,
    RedisConnection redis,
    IReplicaLeadership leadership,
    IOptions<RedisOptions> options,
    TimeProvider time,
    ILogger<FollowedUsersReplication> logger) : BackgroundService
{
    /// <summary>The channel rung after a change to the team (by the store) or to the holder's statuses (by this loop).</summary>
    public const string Bell = "followed-users:bell";

    /// <summary>At most 5 s, and at most a lease: the board (three leases to live) is renewed at least twice before it
    /// could expire.</summary>
    private TimeSpan Period => options.Value.LeaseTime < TimeSpan.FromSeconds(5) ? options.Value.LeaseTime : TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var bell = new RedisBell(redis, Bell);
        while (!stoppingToken.IsCancellationRequested)
        {
            // Taken before the round reads anything, so that a change during it brings another round.
            var wake = Task.WhenAny(bell.Rung, followed.StatusesChanged);
            try
            {
                await bell.ListenAsync();
                await RoundAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Redis restarting or unreachable (or a key ring without the key of a payload): the next round tries again.
                logger.LogWarning("Could not bring the followed users in step with the other replicas: {Message}", e.Message);
            }
            try
            {
                await wake.WaitAsync(Period, time, stoppingToken);
            }
            catch (TimeoutException)
            {
                // No ring: a round anyway.
            }
        }
    }

    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        await followed.ReloadAsync(cancellationToken);
        if (leadership.IsLeader)
        {
            if (await board.WriteAsync(followed.Statuses, cancellationToken)) await RedisBell.RingAsync(redis, Bell);
            return;
        }
        var held = await board.ReadAsync(cancellationToken);
        // Asked again after the read: a replica that took the subscription meanwhile reports its own statuses.
        if (!leadership.IsLeader) followed.Adopt(held);
    }
}
