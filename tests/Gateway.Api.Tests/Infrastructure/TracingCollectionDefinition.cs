using Gateway.Testing.Prosody;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// Tests that listen to the gateway's activity sources. A listener is process-wide: while one is on, every other test's
/// command IQs would carry a trace context and its webhook deliveries would look up their call, so these tests run alone
/// (after the parallel ones), with a Prosody of their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TracingCollection : ICollectionFixture<ProsodyFixture>
{
    public const string Name = "Process-wide tracing";
}
