using System.Globalization;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary><c>Gateway:Webhooks</c>: the durable delivery queue, the retry schedule and the target guard.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Gateway:Webhooks";

    /// <summary>The SQLite file holding subscriptions and the delivery queue; a relative path is relative to the content root.</summary>
    public string DatabasePath { get; set; } = "data/webhooks.db";

    /// <summary>Allow targets on loopback, private, link-local, CGNAT and other non-public addresses (development only).</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>Refuse plain <c>http://</c> targets.</summary>
    public bool RequireHttps { get; set; } = true;

    /// <summary>The delays before the second, third… attempt, comma-separated (the first attempt is immediate), so a
    /// delivery is tried once more than there are entries. Svix's schedule by default: eight attempts over 27½ hours.</summary>
    public string RetrySchedule { get; set; } = "00:00:05, 00:05:00, 00:30:00, 02:00:00, 05:00:00, 10:00:00, 10:00:00";

    /// <summary>Each delay is scaled by a random factor in [1 - jitter, 1 + jitter], so endpoints coming back after an
    /// outage are not hit by every queue at once.</summary>
    public double RetryJitter { get; set; } = 0.2;

    /// <summary>How long one attempt may take, connection and response headers included.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Attempts in flight at once, each to a different subscription.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 16;

    /// <summary>Subscriptions one API key may hold.</summary>
    public int MaxSubscriptionsPerKey { get; set; } = 50;

    /// <summary>How long succeeded and failed deliveries stay in the delivery log.</summary>
    public TimeSpan DeliveryRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>After a secret rotation, deliveries are also signed with the previous secret for this long.</summary>
    public TimeSpan SecretRotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The parsed <see cref="RetrySchedule"/>.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays => ParseSchedule(RetrySchedule, out var delays) is null ? delays : [];

    /// <summary>Parses a comma-separated list of TimeSpans; null when valid, else why not.</summary>
    internal static string? ParseSchedule(string? text, out List<TimeSpan> delays)
    {
        delays = [];
        if (string.IsNullOrWhiteSpace(text)) return null;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TimeSpan.TryParse(part, CultureInfo.InvariantCulture, out var delay))
                return $"'{part}' is not a duration (hh:mm:ss or d.hh:mm:ss).";
            if (delay <= TimeSpan.Zero || delay > TimeSpan.FromDays(7)) return $"'{part}' must be more than zero and at most 7 days.";
            delays.Add(delay);
        }
        return delays.Count > 20 ? "must list at most 20 delays." : null;
    }
}

internal sealed class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var failures = new List<string>();
        const string At = WebhookOptions.SectionName;
        if (string.IsNullOrWhiteSpace(options.DatabasePath)) failures.Add($"{At}:DatabasePath is required: the SQLite file of the webhook queue.");
        if (WebhookOptions.ParseSchedule(options.RetrySchedule, out _) is { } scheduleError) failures.Add($"{At}:RetrySchedule: {scheduleError}");
        if (options.RetryJitter is < 0 or > 0.5) failures.Add($"{At}:RetryJitter must be between 0 and 0.5.");
        if (options.AttemptTimeout < TimeSpan.FromSeconds(1) || options.AttemptTimeout > TimeSpan.FromMinutes(5))
            failures.Add($"{At}:AttemptTimeout must be between 1 second and 5 minutes.");
        if (options.MaxConcurrentDeliveries is < 1 or > 256) failures.Add($"{At}:MaxConcurrentDeliveries must be between 1 and 256.");
        if (options.MaxSubscriptionsPerKey is < 1 or > 10_000) failures.Add($"{At}:MaxSubscriptionsPerKey must be between 1 and 10000.");
        if (options.DeliveryRetention < TimeSpan.FromMinutes(1)) failures.Add($"{At}:DeliveryRetention must be at least one minute.");
        if (options.SecretRotationOverlap < TimeSpan.Zero || options.SecretRotationOverlap > TimeSpan.FromDays(30))
            failures.Add($"{At}:SecretRotationOverlap must be between 0 and 30 days.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
