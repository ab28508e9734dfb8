namespace Gateway.Api.Calls.State;

/// <summary>The durations the state machine applies; the clock that measures them is the caller's.</summary>
/// <param name="EarlyEventHoldTime">How long events carrying a call-setup-id nobody claimed are held before they are
/// published as a call of their own (the create result may come after the first events; seed note [1]).</param>
/// <param name="CalleeLegGrace">After the caller answered and its setup leg ended, how long to wait for the callee leg
/// before the call ends as <c>callee-not-reached</c>.</param>
/// <param name="SetupTimeout">A created call with no leg after this long ends as <c>setup-timeout</c>.</param>
public sealed record CallTimings(TimeSpan EarlyEventHoldTime, TimeSpan CalleeLegGrace, TimeSpan SetupTimeout)
{
    public static CallTimings Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), TimeSpan.FromMinutes(2));
}
