using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Call state for tests that build their own service collection: the in-memory store, the publisher (with
/// whatever <see cref="ICallEventConsumer"/>s the test registers) and the tracker. Start it with <see cref="StartCallsAsync"/>.</summary>
public static class TestCalls
{
    public static IServiceCollection AddInMemoryCalls(this IServiceCollection services, CallsOptions? options = null)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(Options.Create(options ?? new CallsOptions { Store = CallStoreKind.Memory }));
        services.AddSingleton<InMemoryCallStore>();
        services.AddSingleton<ICallStore>(sp => sp.GetRequiredService<InMemoryCallStore>());
        services.AddSingleton<PublishedHead>();
        services.AddSingleton<CallEventPublisher>();
        services.TryAddSingleton<IReplicaLeadership>(new SingleReplicaLeadership("test"));
        services.TryAddSingleton(Options.Create(new HttpApiOptions()));
        services.AddSingleton<CallTracker>();
        return services;
    }

    public static async Task<CallTracker> StartCallsAsync(this IServiceProvider services)
    {
        var tracker = services.GetRequiredService<CallTracker>();
        await tracker.StartAsync(CancellationToken.None);
        return tracker;
    }

    /// <summary>The events committed after <paramref name="after"/> (a log position), in log order.</summary>
    public static async Task<IReadOnlyList<StoredCallEvent>> CommittedAsync(this ICallStore store, long after = 0) =>
        await store.ReadLogAsync(after, int.MaxValue, CancellationToken.None);
}
