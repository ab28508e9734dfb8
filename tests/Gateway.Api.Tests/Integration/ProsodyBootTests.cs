using System.Text.Json.Nodes;
using Gateway.Testing.Prosody;

namespace Gateway.Api.Tests.Integration;

/// <summary>The real host against a real Prosody: Prosody answers for a configured component that is not connected
/// with its own application condition.</summary>
[Collection(ProsodyCollection.Name)]
public sealed class ProsodyBootTests(ProsodyFixture prosody) : RealHostBootSpecification(prosody)
{
    protected override void AssertTheServersOwnAnswer(JsonObject problem) =>
        Assert.Equal("not-connected", (string?)problem["xmppApplicationCondition"]);
}
