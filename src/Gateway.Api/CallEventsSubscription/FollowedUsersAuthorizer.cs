using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;

namespace Gateway.Api.CallEventsSubscription;

/// <summary>
/// Sends <c>authorize-plain</c> (with <c>auth-for-all</c> as configured) for the followed users, for the event receiver's
/// full JID, and records each outcome in <see cref="FollowedUsers"/>: the subscription manager's first step of every
/// session, of every renewal, and of every change to the team.
/// </summary>
internal sealed class FollowedUsersAuthorizer(FollowedUsers followed, EventsOptions options, TimeProvider time, ILogger logger)
{
    /// <summary>Authorises every followed user on <paramref name="subscriber"/> and returns the earliest end among those
    /// authorised (the subscription cannot outlive it). A user the Auth component refuses (a wrong password) is reported
    /// and left out, so the others' calls still flow; only when none is authorised does the attempt fail.</summary>
    public async Task<DateTimeOffset?> AuthorizeAllAsync(IEventConnection receiver, Jid subscriber, CancellationToken cancellationToken)
    {
        DateTimeOffset? earliest = null;
        var authorized = 0;
        var refusals = new List<string>();
        foreach (var user in followed.Users)
        {
            var outcome = await TryAuthorizeAsync(receiver, subscriber, user, cancellationToken);
            if (outcome.Refusal is { } refusal)
            {
                refusals.Add($"{user.Address}: {refusal}");
                continue;
            }
            authorized++;
            if (outcome.Expires is { } expires && (earliest is null || expires < earliest)) earliest = expires;
        }
        if (authorized == 0)
            throw new InvalidOperationException(refusals.Count == 0
                ? "No user is followed: add one (POST /followed-users) or configure Gateway:Events:Users."
                : "No followed user could be authorised: " + string.Join("; ", refusals));
        return earliest;
    }

    /// <summary>Authorises the users not authorised on this session: the ones the Auth component refused (their password
    /// may have been fixed upstream meanwhile), and the ones added or given a new password since.</summary>
    public async Task AuthorizePendingAsync(IEventConnection receiver, Jid subscriber, CancellationToken cancellationToken)
    {
        foreach (var user in followed.Unauthorized) await TryAuthorizeAsync(receiver, subscriber, user, cancellationToken);
    }

    /// <summary>One user's <c>authorize-plain</c>: its end (when said), or why the Auth component refused it. Other
    /// failures (no answer, the connection lost) are the session's and propagate.</summary>
    private async Task<AuthorizeOutcome> TryAuthorizeAsync(IEventConnection receiver, Jid subscriber, FollowedUserOptions user, CancellationToken cancellationToken)
    {
        try
        {
            return new AuthorizeOutcome(await AuthorizeAsync(receiver, subscriber, user, cancellationToken), null);
        }
        catch (XmppStanzaErrorException e)
        {
            var reason = ActiveCallsSubscriptionManager.Describe(e);
            followed.Failed(user, reason);
            logger.LogWarning("The Auth component refused to authorise {Subscriber} for the followed user {Address}: {Reason}; its calls are not followed until it succeeds",
                subscriber.Bare, user.Address, reason);
            return new AuthorizeOutcome(null, reason);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            followed.Failed(user, e.Message);
            throw;
        }
    }

    private readonly record struct AuthorizeOutcome(DateTimeOffset? Expires, string? Refusal);

    private async Task<DateTimeOffset?> AuthorizeAsync(IEventConnection receiver, Jid subscriber, FollowedUserOptions user, CancellationToken cancellationToken)
    {
        var form = DataForm.Submit()
            .Add("sip-address", user.Address, FormFieldType.TextSingle)
            .Add("password", user.Password, FormFieldType.TextPrivate)
            .Add("auth-for-all", options.AuthForAll)
            .Add("jid", subscriber.ToString(), FormFieldType.JidSingle)
            .Build();
        var result = await new AdHocCommandClient(receiver).ExecuteAsync(Jid.Parse(options.AuthComponent), "authorize-plain", form, ct: cancellationToken);
        var expiresText = result.Form?.GetValue("expires");
        DateTimeOffset? expires = DateTimeOffset.TryParse(expiresText, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var e) ? e : null;
        var addresses = result.Form?.GetValues("sip") ?? [];
        followed.Authorized(user, expires ?? time.GetUtcNow() + options.SubscriptionLifetime, addresses.IsDefault ? [] : addresses);
        logger.LogInformation("Authorised {Subscriber} for {Addresses} until {Expires}", subscriber.Bare,
            addresses.IsDefaultOrEmpty ? user.Address : string.Join(", ", addresses), expiresText ?? "(not said)");
        return expires;
    }
}
