using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Hosting;

/// <summary>The replica side of the host: who this process is among replicas and who holds the subscription.</summary>
public static class ReplicaHostingExtensions
{
    /// <summary>Who holds the subscription: this process alone with the embedded stores; with the Redis store, the replica
    /// holding the Redis lease (elected by a hosted service that starts before everything that waits for it).</summary>
    public static IHostApplicationBuilder AddReplicas(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<ReplicaIdentity>();
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<RedisLeaseLeadership>();
        services.AddSingleton<IReplicaLeadership>(sp => IsShared(sp)
            ? sp.GetRequiredService<RedisLeaseLeadership>()
            : new SingleReplicaLeadership(sp.GetRequiredService<ReplicaIdentity>().Id));
        if (!builder.Environment.IsOpenApiGeneration())
            // AddSingleton rather than AddHostedService<IHostedService>: the latter's TryAddEnumerable refuses an implementation
            // type that is the service type itself, and every host failed to build.
            services.AddSingleton<IHostedService>(sp => IsShared(sp) ? sp.GetRequiredService<RedisLeaseLeadership>() : new NoHostedService());
        return builder;
    }

    /// <summary>True when call state lives in Redis, shared with other replicas.</summary>
    public static bool IsShared(IServiceProvider services) => services.GetRequiredService<IOptions<CallsOptions>>().Value.Store == CallStoreKind.Redis;

    /// <summary>Stands in where a hosted service runs only with replicas.</summary>
    internal sealed class NoHostedService : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
