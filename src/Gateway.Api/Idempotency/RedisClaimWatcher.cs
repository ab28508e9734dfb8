using Gateway.Api.Replicas;
using StackExchange.Redis;

namespace Gateway.Api.Idempotency;

/// <summary>
/// Tells this replica's waiting requests when a claim on an idempotency key ended (completed, released, or its lease ran
/// out), wherever the claim was held. Two ways, because either alone can fail:
/// <list type="bullet">
/// <item>pub/sub: whoever ends a claim publishes its token on <see cref="Channel"/> (one channel for every key, so a
/// replica subscribes once rather than once per key); that wakes waiters at once;</item>
/// <item>polling: a message published while this replica's subscription is down (Redis restarting, a reconnect) is lost
/// for good, so each watched claim is also re-read every <see cref="PollInterval"/>; a claim that is gone or replaced has
/// ended. Polling also sees a lease run out, which nobody announces.</item>
/// </list>
/// A watch ends at the latest when the lease it saw must have run out, also while Redis cannot be reached: the waiter then
/// asks the store again, which tells the truth or fails, instead of hanging.
/// </summary>
internal sealed class RedisClaimWatcher : IAsyncDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private readonly RedisConnection _redis;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    // Cancelled on dispose, never disposed itself (it has no timer): polls still running then read its token, and a
    // second dispose cancels it again harmlessly.
    private readonly CancellationTokenSource _stopping = new();
    private Task? _subscribed;

    public RedisClaimWatcher(RedisConnection redis, TimeProvider time)
    {
        _redis = redis;
        _time = time;
        Channel = RedisChannel.Literal(redis.Prefix + "idem:ended");
    }

    /// <summary>Where the token of an ended claim is published.</summary>
    public RedisChannel Channel { get; }

    /// <summary>A task that completes when the claim <paramref name="token"/> on <paramref name="key"/> has ended; every
    /// request of this replica waiting for the same claim shares one watch.</summary>
    public async Task<Task> WhenEndedAsync(RedisKey key, string token, TimeSpan leaseLeft, CancellationToken cancellationToken)
    {
        await SubscribedAsync().WaitAsync(cancellationToken);
        Watch watch;
        lock (_gate)
        {
            if (_watches.TryGetValue(token, out var watching)) return watching.Ended.Task;
            _watches[token] = watch = new Watch(key, token, _time.GetUtcNow() + leaseLeft + PollInterval);
        }
        _ = PollAsync(watch);
        return watch.Ended.Task;
    }

    /// <summary>Subscribes once; a failed subscription is tried again by the next watch. StackExchange.Redis
    /// re-subscribes by itself after a reconnect.</summary>
    private Task SubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscribed is null or { IsFaulted: true } or { IsCanceled: true }) _subscribed = SubscribeAsync();
            return _subscribed;
        }
    }

    private async Task SubscribeAsync()
    {
        var multiplexer = await _redis.MultiplexerAsync();
        await multiplexer.GetSubscriber().SubscribeAsync(Channel, OnEnded);
    }

    private void OnEnded(RedisChannel channel, RedisValue token)
    {
        Watch? watch;
        lock (_gate)
            if (!_watches.Remove(token.ToString(), out watch)) return;
        watch.Ended.TrySetResult();
    }

    private async Task PollAsync(Watch watch)
    {
        try
        {
            while (!watch.Ended.Task.IsCompleted && _time.GetUtcNow() < watch.GiveUpAt)
            {
                await Task.Delay(PollInterval, _time, _stopping.Token);
                if (await IsHeldAsync(watch) is false) break;
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down: the waiter is woken below and finds the replica stopping.
        }
        End(watch);
    }

    /// <summary>Whether the key still holds the watched claim; null when Redis could not say (asked again next round).</summary>
    private async Task<bool?> IsHeldAsync(Watch watch)
    {
        try
        {
            var db = await _redis.DatabaseAsync();
            return await db.HashGetAsync(watch.Key, RedisIdempotencyStore.ClaimField) == watch.Token;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
    }

    private void End(Watch watch)
    {
        lock (_gate)
            if (_watches.TryGetValue(watch.Token, out var current) && current == watch) _watches.Remove(watch.Token);
        watch.Ended.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        List<Watch> watches;
        Task? subscribed;
        lock (_gate)
        {
            watches = [.. _watches.Values];
            _watches.Clear();
            subscribed = _subscribed;
            _subscribed = null;
        }
        foreach (var watch in watches) watch.Ended.TrySetResult();
        if (subscribed is { IsCompletedSuccessfully: true })
            await (await _redis.MultiplexerAsync()).GetSubscriber().UnsubscribeAsync(Channel, OnEnded, CommandFlags.FireAndForget);
    }

    private sealed class Watch(RedisKey key, string token, DateTimeOffset giveUpAt)
    {
        public RedisKey Key { get; } = key;
        public string Token { get; } = token;
        public DateTimeOffset GiveUpAt { get; } = giveUpAt;
        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
