using System.Diagnostics.Metrics;
using Gateway.Api.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Meter factories for tests that build components by hand: each its own, so a <c>MetricCollector</c> scoped to
/// it sees that test's measurements only.</summary>
internal static class TestMeters
{
    public static IMeterFactory NewFactory() => new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    public static WebhookMetrics Webhooks(IWebhookStore store, TimeProvider time, IMeterFactory? meterFactory = null) =>
        new(meterFactory ?? NewFactory(), store, time, NullLogger<WebhookMetrics>.Instance);
}
