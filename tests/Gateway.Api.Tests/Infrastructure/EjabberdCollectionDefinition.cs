using Gateway.Testing.Ejabberd;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(EjabberdCollection.Name)]</c> share one <see cref="EjabberdFixture"/> (xunit
/// finds collection definitions in the test assembly only, so the definition lives here, not in Gateway.Testing).</summary>
[CollectionDefinition(EjabberdCollection.Name)]
public sealed class EjabberdCollectionDefinition : ICollectionFixture<EjabberdFixture>;
