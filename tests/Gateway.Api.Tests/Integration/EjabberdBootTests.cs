using System.Text.Json.Nodes;
using Gateway.Testing.Ejabberd;

namespace Gateway.Api.Tests.Integration;

/// <summary>The real host against a real ejabberd: with no component connected for an address under its domain, ejabberd
/// refuses to route there (auth/forbidden, "Access denied by service policy"), which the gateway takes as the service
/// being unavailable.</summary>
[Collection(EjabberdCollection.Name)]
public sealed class EjabberdBootTests(EjabberdFixture ejabberd) : RealHostBootSpecification(ejabberd)
{
    protected override void AssertTheServersOwnAnswer(JsonObject problem)
    {
        Assert.Equal("forbidden", (string?)problem["xmppCondition"]);
        Assert.Equal("Access denied by service policy", (string?)problem["detail"]);
    }
}
