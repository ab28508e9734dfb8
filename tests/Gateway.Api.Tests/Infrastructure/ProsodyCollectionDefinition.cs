using Gateway.Testing.Prosody;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(ProsodyCollection.Name)]</c> share one <see cref="ProsodyFixture"/> (xunit
/// finds collection definitions in the test assembly only, so the definition lives here, not in Gateway.Testing).</summary>
[CollectionDefinition(ProsodyCollection.Name)]
public sealed class ProsodyCollectionDefinition : ICollectionFixture<ProsodyFixture>;
