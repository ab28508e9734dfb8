using Gateway.Api.Calls.State;

namespace Gateway.Api.Calls.Store;

/// <summary>The parts of a <see cref="CallQuery"/> every store applies the same way in memory.</summary>
public static class CallFilter
{
    public static bool Matches(TrackedCall call, CallQuery query)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(query);
        if (!call.Visible) return false;
        if (query.State is { } state ? call.State != state : call.IsEnded) return false;
        if (query.CreatedAfter is { } createdAfter && call.CreatedAt < createdAfter) return false;
        if (query.CreatedBefore is { } createdBefore && call.CreatedAt >= createdBefore) return false;
        if (query.EndedAfter is { } endedAfter && !(call.EndedAt >= endedAfter)) return false;
        if (query.EndedBefore is { } endedBefore && !(call.EndedAt < endedBefore)) return false;
        return query.Address is not { } address || AddressesOf(call).Any(a => string.Equals(SipUri.AddressOf(a), address, StringComparison.Ordinal));
    }

    /// <summary>Every address of a call, as <see cref="CallAddresses.Of"/> lists them, without building its resource.</summary>
    private static IEnumerable<string?> AddressesOf(TrackedCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        yield return call.From;
        yield return call.To;
        foreach (var leg in call.Legs)
        {
            yield return leg.Item.FromUri;
            yield return leg.Item.ToUri;
            yield return leg.Item.ToAor;
        }
    }
}
