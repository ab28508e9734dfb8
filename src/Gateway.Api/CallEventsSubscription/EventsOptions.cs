using Gateway.Api.Calls;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Options;

namespace Gateway.Api.CallEventsSubscription;

/// <summary><c>Gateway:Events</c>: the PubSub subscription that feeds the call tracker (OnSIP's bootstrap: authorize-plain,
/// then a subscription to <c>/me/&lt;bare-jid&gt;</c> with depth all, renewed before it expires).</summary>
public sealed class EventsOptions
{
    public const string SectionName = "Gateway:Events";

    /// <summary>On by default when a user is configured (<see cref="SipAddress"/> or <see cref="Users"/>); true with none
    /// follows only the users added through <c>/followed-users</c>; false turns the subscription off.</summary>
    public bool? Enabled { get; set; }

    /// <summary>The first followed SIP user: <c>authorize-plain</c> is sent for it (<c>user@domain</c>; a <c>sip:</c>
    /// prefix is dropped).</summary>
    public string? SipAddress { get; set; }

    /// <summary>The web portal password of <see cref="SipAddress"/> (set it through the environment, not a committed file).</summary>
    public string? Password { get; set; }

    /// <summary>More followed SIP users (<c>Gateway:Events:Users:N:Address</c> / <c>Password</c>), for a team whose
    /// addresses have different owners: each is authorised on the same JID, so <c>/me/&lt;jid&gt;</c> covers them all.</summary>
    public List<FollowedUserOptions> Users { get; set; } = [];

    /// <summary>Authorise each followed user for every SIP address of its owner.</summary>
    public bool AuthForAll { get; set; } = true;

    /// <summary>What <c>POST /calls</c> does with a <c>from</c> that no followed user covers: its call would get no
    /// events, so by default it is refused (422 <c>from-not-followed</c>); <see cref="UnfollowedFromPolicy.Allow"/> places
    /// it anyway and logs a warning.</summary>
    public UnfollowedFromPolicy UnfollowedFrom { get; set; } = UnfollowedFromPolicy.Refuse;

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

    public bool IsEnabled => Enabled ?? FollowedUsers().Count > 0;

    /// <summary><see cref="SipAddress"/> (when set) then <see cref="Users"/>, addresses without a <c>sip:</c> prefix.</summary>
    public IReadOnlyList<FollowedUserOptions> FollowedUsers()
    {
        var users = new List<FollowedUserOptions>(Users.Count + 1);
        if (!string.IsNullOrWhiteSpace(SipAddress)) users.Add(new FollowedUserOptions { Address = SipAddress, Password = Password });
        users.AddRange(Users);
        return [.. users.Select(u => new FollowedUserOptions { Address = SipUri.WithoutScheme(u.Address?.Trim() ?? ""), Password = u.Password })];
    }
}

/// <summary>One followed SIP user of <c>Gateway:Events:Users</c>.</summary>
public sealed class FollowedUserOptions
{
    /// <summary><c>user@domain</c> (a <c>sip:</c> prefix is dropped).</summary>
    public string? Address { get; set; }

    /// <summary>Its web portal password (set it through the environment, not a committed file).</summary>
    public string? Password { get; set; }
}

public enum UnfollowedFromPolicy
{
    /// <summary>422 <c>from-not-followed</c>, nothing sent.</summary>
    Refuse,
    /// <summary>Placed, with a warning in the log: its call shows only what the commands say.</summary>
    Allow,
}

internal sealed class EventsOptionsValidator : IValidateOptions<EventsOptions>
{
    public ValidateOptionsResult Validate(string? name, EventsOptions options)
    {
        if (!options.IsEnabled) return ValidateOptionsResult.Success;
        var failures = new List<string>();
        // Enabled=true with no user configured is fine: they are added through /followed-users.
        var users = options.FollowedUsers();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var user in users)
        {
            if (SipUri.Validate("sip:" + user.Address, allowPstnShorthand: false, out _) is not null)
                failures.Add($"Gateway:Events: the followed user '{user.Address}' must be a user@domain SIP address (Gateway:Events:SipAddress or Gateway:Events:Users:N:Address).");
            else if (!seen.Add(user.Address!))
                failures.Add($"Gateway:Events: the followed user '{user.Address}' is configured twice.");
            if (string.IsNullOrEmpty(user.Password))
                failures.Add($"Gateway:Events: the followed user '{user.Address}' needs its web password (Gateway:Events:Password for Gateway:Events:SipAddress, else Gateway:Events:Users:N:Password; set it through the environment).");
        }
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
