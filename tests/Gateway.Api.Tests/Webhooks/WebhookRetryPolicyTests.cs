using Gateway.Api.Webhooks;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>The backoff schedule: delays, jitter bounds, Retry-After and the attempt budget.</summary>
public sealed class WebhookRetryPolicyTests
{
    private static readonly TimeSpan[] Svix =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    [Fact]
    public void TheDefaultScheduleIsSvixsSevenDelaysOverTwentySevenAndAHalfHours()
    {
        var options = new WebhookOptions();

        Assert.Equal(Svix, options.RetryDelays);
        Assert.Equal(TimeSpan.Parse("1.03:35:05", System.Globalization.CultureInfo.InvariantCulture), options.RetryDelays.Aggregate(TimeSpan.Zero, (a, b) => a + b));
    }

    [Fact]
    public void WithoutJitterTheNthFailureWaitsTheNthDelayAndTheEighthAttemptIsTheLast()
    {
        var policy = new WebhookRetryPolicy(Svix, jitter: 0, new Random(1));

        Assert.Equal(8, policy.MaxAttempts);
        Assert.Equal(Svix, Enumerable.Range(1, 7).Select(n => policy.DelayAfter(n)!.Value));
        Assert.Null(policy.DelayAfter(8));
    }

    [Fact]
    public void JitterStaysWithinItsBoundsAndVaries()
    {
        var policy = new WebhookRetryPolicy(Svix, jitter: 0.2, new Random(42));

        var delays = Enumerable.Range(0, 500).Select(_ => policy.DelayAfter(2)!.Value).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6)));
        Assert.True(delays.Distinct().Count() > 400);
        Assert.True(delays.Min() < TimeSpan.FromMinutes(4.2) && delays.Max() > TimeSpan.FromMinutes(5.8), "jitter should use its whole range");
    }

    [Fact]
    public void ALongerRetryAfterIsHonouredUpToTheLongestDelay()
    {
        var policy = new WebhookRetryPolicy(Svix, jitter: 0, new Random(1));

        Assert.Equal(TimeSpan.FromSeconds(5), policy.DelayAfter(1, retryAfter: TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromMinutes(3), policy.DelayAfter(1, retryAfter: TimeSpan.FromMinutes(3)));
        Assert.Equal(TimeSpan.FromHours(10), policy.DelayAfter(1, retryAfter: TimeSpan.FromDays(3)));
    }

    [Theory]
    [InlineData("00:00:05, soon", "Gateway:Webhooks:RetrySchedule: 'soon' is not a duration (hh:mm:ss or d.hh:mm:ss).")]
    [InlineData("00:00:00", "Gateway:Webhooks:RetrySchedule: '00:00:00' must be more than zero and at most 7 days.")]
    [InlineData("8.00:00:00", "Gateway:Webhooks:RetrySchedule: '8.00:00:00' must be more than zero and at most 7 days.")]
    public void AScheduleThatDoesNotParseFailsValidation(string schedule, string failure)
    {
        var result = new WebhookOptionsValidator().Validate(null, new WebhookOptions { RetrySchedule = schedule });

        Assert.Equal([failure], result.Failures);
    }
}
