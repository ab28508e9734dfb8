using Gateway.Api.Calls;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>Call events for the webhook tests: one <c>call.connected</c> per call at <see cref="T0"/>, or a whole call driven
/// through a host's tracker.</summary>
internal static class WebhookTestEvents
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The first event of call <c>call{n}</c>: its id is <c>call{n}.1</c>.</summary>
    public static CallEvent Connected(int n) => new()
    {
        Id = $"call{n}.1",
        Type = "call.connected",
        Sequence = 1,
        OccurredAt = T0,
        Call = new CallResource { Id = "call" + n, State = CallState.Connected, CreatedAt = T0, UpdatedAt = T0, Legs = [] },
    };

    /// <summary>A click-to-call from alice to bob through <paramref name="calls"/>, from the create to both legs ending:
    /// seven events (the setup leg ending while connected is call.updated).</summary>
    public static async Task PlaceAndEndCallAsync(CallTracker calls, string id)
    {
        await calls.BeginCreateAsync(id, "sip:alice@example.com", "sip:bob@example.com", "admin", cancellationToken: Ct);
        await calls.CompleteCreateAsync(id, id, Ct);
        await calls.ApplyPublishedAsync(SetupLeg(id, "requested"), "setup-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(SetupLeg(id, "confirmed", toTag: "tt-1"), "setup-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(CalleeLeg(id, "requested"), "callee-" + id, Node, Ct);
        await calls.ApplyPublishedAsync(CalleeLeg(id, "confirmed", toTag: "tt-2"), "callee-" + id, Node, Ct);
        await calls.ApplyRetractedAsync("setup-" + id, Ct);
        await calls.ApplyRetractedAsync("callee-" + id, Ct);
    }
}
