using Gateway.Api.Calls;

namespace Gateway.Api.Webhooks;

/// <summary>The <c>statusCallback</c> members of <c>POST /calls</c>, checked by the rules of a registered webhook
/// (<see cref="WebhookTargetGuard"/> for the URL); errors are keyed by JSON member name.</summary>
public sealed class StatusCallbackRequests(WebhookTargetGuard targets, IWebhookStore store)
{
    /// <summary>Each known type once.</summary>
    public static int MaxEvents => CallEventTypes.All.Count;

    /// <summary>The callback the request names (null for none), adding what is wrong with it to <paramref name="errors"/>.</summary>
    public async Task<CallStatusCallback?> ValidateAsync(CreateCallRequest? request, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (request is null) return null;
        IReadOnlyList<string>? events = null;
        if (request.StatusCallbackEvents is { } types)
        {
            var unknown = types.Where(t => t is null || !CallEventTypes.All.Contains(t, StringComparer.Ordinal)).Select(t => t ?? "null").ToList();
            if (request.StatusCallback is null) errors["statusCallbackEvents"] = ["needs a statusCallback."];
            else if (types.Count == 0) errors["statusCallbackEvents"] = ["must list at least one event type; leave it out for every type."];
            else if (types.Count > MaxEvents) errors["statusCallbackEvents"] = [$"must list at most {MaxEvents} event types."];
            else if (unknown.Count > 0)
                errors["statusCallbackEvents"] = [$"has unknown types ({string.Join(", ", unknown)}); known: {string.Join(", ", CallEventTypes.All)}."];
            else events = [.. types.Distinct(StringComparer.Ordinal)];
        }
        if (request.StatusCallback is null) return null;
        var (url, urlError) = await targets.CheckAsync(request.StatusCallback, cancellationToken);
        if (urlError is not null) errors["statusCallback"] = [urlError];
        return url is null || errors.ContainsKey("statusCallbackEvents") ? null : new CallStatusCallback { Url = url.AbsoluteUri, Events = events };
    }

    public async Task<bool> HasSecretAsync(string owner, CancellationToken cancellationToken) =>
        await store.CallbackSecretAsync(owner, cancellationToken) is not null;
}
