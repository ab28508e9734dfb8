using Gateway.Api.Calls;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

/// <summary><c>Gateway:Events</c>: the PubSub subscription that feeds the call tracker (OnSIP's bootstrap: authorize-plain,
/// then a subscription to <c>/me/&lt;bare-jid&gt;</c> with depth all, renewed before it expires).</summary>
public sealed class EventsOptions
{
    public const string SectionName = "Gateway:Events";

    /// <summary>On by default when <see cref="SipAddress"/> is set; false turns the subscription off.</summary>
    public bool? Enabled { get; set; }

    /// <summary>The SIP address <c>authorize-plain</c> is sent for (<c>user@domain</c>; a <c>sip:</c> prefix is dropped).</summary>
    public string? SipAddress { get; set; }

    /// <summary>The web portal password of <see cref="SipAddress"/> (set it through the environment, not a committed file).</summary>
    public string? Password { get; set; }

    /// <summary>Authorise for every SIP address of the owner of <see cref="SipAddress"/>.</summary>
    public bool AuthForAll { get; set; } = true;

    /// <summary>The Auth component (node <c>authorize-plain</c>).</summary>
    public string AuthComponent { get; set; } = "commands.auth.xmpp.onsip.com";

    /// <summary>The Active-Calls PubSub service.</summary>
    public string PubSubService { get; set; } = "pubsub.active-calls.xmpp.onsip.com";

    /// <summary>The subscription expiry asked for when the authorisation does not say when it ends (OnSIP: one hour).</summary>
    public TimeSpan SubscriptionLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>When to re-authorise and renew, as a fraction of the remaining authorisation / subscription lifetime.</summary>
    public double RenewAt { get; set; } = 0.75;

    /// <summary>How long a <c>pending</c> subscription may wait for its <c>subscribed</c> message before it is retried.</summary>
    public TimeSpan SubscribedTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often, while subscribed, the calls shown as live are checked against the service's current items
    /// (besides after every (re)subscription): a call whose legs vanished without their retractions reaching the gateway
    /// (the service crashed, a notification was lost) ends as <c>lost</c> within this time.</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>First and largest delay between failed attempts (decorrelated jitter in between).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    public bool IsEnabled => Enabled ?? !string.IsNullOrWhiteSpace(SipAddress);

    /// <summary><see cref="SipAddress"/> without a <c>sip:</c> prefix.</summary>
    public string BareSipAddress => SipUri.WithoutScheme(SipAddress ?? "");
}

internal sealed class EventsOptionsValidator : IValidateOptions<EventsOptions>
{
    public ValidateOptionsResult Validate(string? name, EventsOptions options)
    {
        if (!options.IsEnabled) return ValidateOptionsResult.Success;
        var failures = new List<string>();
        if (SipUri.Validate("sip:" + options.BareSipAddress, allowPstnShorthand: false, out _) is not null)
            failures.Add("Gateway:Events:SipAddress must be a user@domain SIP address when Gateway:Events is enabled (set Gateway:Events:Enabled=false to turn the subscription off).");
        if (string.IsNullOrEmpty(options.Password))
            failures.Add("Gateway:Events:Password is required when Gateway:Events is enabled: the web password of Gateway:Events:SipAddress (set it with Gateway__Events__Password).");
        if (!Jid.TryParse(options.AuthComponent, out var auth) || auth is null || auth.Local is not null)
            failures.Add($"Gateway:Events:AuthComponent must be a domain JID, not '{options.AuthComponent}'.");
        if (!Jid.TryParse(options.PubSubService, out var pubSub) || pubSub is null || pubSub.Local is not null)
            failures.Add($"Gateway:Events:PubSubService must be a domain JID, not '{options.PubSubService}'.");
        if (options.SubscriptionLifetime < TimeSpan.FromMinutes(1))
            failures.Add("Gateway:Events:SubscriptionLifetime must be at least one minute.");
        if (options.RenewAt is <= 0.1 or >= 0.95)
            failures.Add("Gateway:Events:RenewAt must be between 0.1 and 0.95 (a fraction of the lifetime).");
        if (options.SubscribedTimeout <= TimeSpan.Zero) failures.Add("Gateway:Events:SubscribedTimeout must be positive.");
        if (options.ReconcileInterval < TimeSpan.FromSeconds(1)) failures.Add("Gateway:Events:ReconcileInterval must be at least one second.");
        if (options.RetryDelay <= TimeSpan.Zero || options.MaxRetryDelay < options.RetryDelay)
            failures.Add("Gateway:Events:RetryDelay must be positive and not above Gateway:Events:MaxRetryDelay.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
