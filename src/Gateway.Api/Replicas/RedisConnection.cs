using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Api.Replicas;

/// <summary>
/// The replica's one Redis connection (StackExchange.Redis multiplexes every command over it). Connecting does not wait
/// for Redis: a replica starts while Redis is down, is not ready until it is up, and reconnects by itself after Redis
/// restarts.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly Lazy<Task<ConnectionMultiplexer>> _multiplexer;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger)
    {
        var o = options.Value;
        Prefix = o.KeyPrefix;
        _multiplexer = new Lazy<Task<ConnectionMultiplexer>>(async () =>
        {
            var configuration = ConfigurationOptions.Parse(o.Configuration);
            configuration.AbortOnConnectFail = false;
            configuration.ClientName ??= "active-calls-gateway";
            var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
            multiplexer.ConnectionFailed += (_, e) => logger.LogWarning(e.Exception, "Redis connection lost ({FailureType}); reconnecting", e.FailureType);
            multiplexer.ConnectionRestored += (_, _) => logger.LogInformation("Redis connection restored");
            return multiplexer;
        });
    }

    /// <summary>What every key of this gateway starts with (<c>Gateway:Redis:KeyPrefix</c>).</summary>
    public string Prefix { get; }

    public RedisKey Key(string name) => Prefix + name;

    public async Task<IDatabase> DatabaseAsync() => (await _multiplexer.Value).GetDatabase();

    public async Task<ConnectionMultiplexer> MultiplexerAsync() => await _multiplexer.Value;

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully) await _multiplexer.Value.Result.DisposeAsync();
    }
}
