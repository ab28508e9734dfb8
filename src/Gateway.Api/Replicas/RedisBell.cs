using StackExchange.Redis;

namespace Gateway.Api.Replicas;

/// <summary>
/// A Redis pub/sub channel that a replica rings after it changed shared state the others keep a copy of, so they read it
/// again at once instead of polling. A ring carries nothing and is not stored: one sent while a listener reconnects is
/// lost, so a listener also reads again every little while.
/// </summary>
public sealed class RedisBell(RedisConnection redis, string name) : IAsyncDisposable
{
    private readonly RedisChannel _channel = Channel(redis, name);
    private readonly Lock _gate = new();
    private TaskCompletionSource _rung = NewSignal();
    private ISubscriber? _subscriber;

    /// <summary>Completes at the next ring heard (once <see cref="ListenAsync"/> succeeded); take it before reading the
    /// state, so a ring during the read is not missed.</summary>
    public Task Rung
    {
        get { lock (_gate) return _rung.Task; }
    }

    /// <summary>Starts listening (a no-op once listening; StackExchange.Redis subscribes again by itself after a reconnect).</summary>
    public async Task ListenAsync()
    {
        if (_subscriber is not null) return;
        var subscriber = (await redis.MultiplexerAsync()).GetSubscriber();
        await subscriber.SubscribeAsync(_channel, OnRing);
        _subscriber = subscriber;
    }

    /// <summary>Rings the bell <paramref name="name"/> for whoever listens (a writer needs no <see cref="RedisBell"/> of its own).</summary>
    public static async Task RingAsync(RedisConnection redis, string name) =>
        await (await redis.DatabaseAsync()).PublishAsync(Channel(redis, name), RedisValue.EmptyString);

    public async ValueTask DisposeAsync()
    {
        if (_subscriber is not { } subscriber) return;
        try
        {
            await subscriber.UnsubscribeAsync(_channel, OnRing);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis is unreachable: the subscription ends with the connection anyway.
        }
    }

    private void OnRing(RedisChannel channel, RedisValue message)
    {
        TaskCompletionSource rung;
        lock (_gate)
        {
            rung = _rung;
            _rung = NewSignal();
        }
        rung.TrySetResult();
    }

    private static RedisChannel Channel(RedisConnection redis, string name) => RedisChannel.Literal(redis.Prefix + name);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
