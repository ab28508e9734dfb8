using Gateway.Api.Calls;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>Call events for the webhook store and replica tests: one <c>call.connected</c> per call, at <see cref="T0"/>.</summary>
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
}
