namespace Gateway.Api.Calls;

/// <summary>The addresses a call involves, which API key scopes and address filters are checked against.</summary>
public static class CallAddresses
{
    /// <summary>Every address of a call: its parties and each leg's from, to and to-aor.</summary>
    public static IEnumerable<string?> Of(CallResource call)
    {
        ArgumentNullException.ThrowIfNull(call);
        yield return call.From;
        yield return call.To;
        foreach (var leg in call.Legs)
        {
            yield return leg.FromUri;
            yield return leg.ToUri;
            yield return leg.ToAor;
        }
    }
}
