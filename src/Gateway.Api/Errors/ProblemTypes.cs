namespace Gateway.Api.Errors;

/// <summary>One kind of problem: a stable machine <see cref="Code"/> (also the last segment of the <c>type</c> URI),
/// its HTTP status and a short title. Clients branch on <c>code</c> (or <c>type</c>), never on <c>detail</c>.</summary>
public sealed record ProblemType(string Code, int Status, string Title)
{
    public const string TypePrefix = "urn:active-calls-gateway:problem:";

    /// <summary>The RFC 9457 <c>type</c>: <c>urn:active-calls-gateway:problem:{code}</c>.</summary>
    public string Type => TypePrefix + Code;
}

/// <summary>
/// Every problem the gateway answers with, and how XMPP outcomes map to HTTP.
/// <list type="table">
/// <item><term>400 validation-failed</term><description>invalid input (per-field <c>errors</c>), before any XMPP traffic</description></item>
/// <item><term>401 unauthorized</term><description>no or wrong API key (<c>WWW-Authenticate</c>)</description></item>
/// <item><term>403 out-of-scope / destination-not-allowed / component-forbidden</term><description>the key does not cover the addresses / may not call the <c>to</c> or transfer <c>target</c> (its destination scope; nothing sent) / the component answered <c>forbidden</c> or <c>not-authorized</c></description></item>
/// <item><term>403 admin-scope-required</term><description>an administration endpoint (<c>/followed-users</c>) asked with a key whose scope is not <c>*</c></description></item>
/// <item><term>404 followed-user-not-found / 409 followed-user-exists / followed-user-configured</term><description><c>/followed-users</c>: no such followed user / it is followed already / it comes from the configuration, which the API does not change</description></item>
/// <item><term>404 call-not-found</term><description>unknown call, or the component answered <c>item-not-found</c></description></item>
/// <item><term>404 webhook-not-found / delivery-not-found</term><description>unknown (or another key's) webhook subscription / delivery</description></item>
/// <item><term>404 status-callback-not-found</term><description>the call has no status callback, or another key placed it</description></item>
/// <item><term>409</term><description>call-setup-id in use, transfer of an unconnected call, webhook limit reached, re-delivery to a disabled subscription, a statusCallback before the key has a status-callback secret (status-callback-secret-required)</description></item>
/// <item><term>422 command-rejected</term><description>the component refused the command's fields (<c>bad-request</c> + <c>bad-payload</c>, "Validation Errors; …")</description></item>
/// <item><term>422 command-failed</term><description>the component could not carry it out ("Execution Errors; …", <c>bad-action</c>, e.g. NO_ROUTE_DESTINATION): the request was understood but cannot succeed as asked, so a retry is pointless; the component's text is the detail</description></item>
/// <item><term>422 from-not-followed</term><description>no followed user (<c>Gateway:Events</c>) covers the create's <c>from</c>: its call would get no events; nothing sent</description></item>
/// <item><term>422 idempotency-key-reused</term><description>the same Idempotency-Key with another request</description></item>
/// <item><term>429 rate-limited</term><description>per-key rate or concurrency limit (<c>Retry-After</c>)</description></item>
/// <item><term>502 component-error</term><description>the component failed on its side (<c>internal-server-error</c>, an unexpected or unreadable answer)</description></item>
/// <item><term>503 component-unavailable / xmpp-unavailable</term><description>the component is not connected (Prosody's <c>not-connected</c>, <c>remote-server-*</c>, <c>service-unavailable</c>), no XMPP connection, or the circuit breaker is open (<c>Retry-After</c>)</description></item>
/// <item><term>503 create-outcome-unknown</term><description>an earlier create with the call-setup-id may have placed the call and the gateway does not know yet; sending another could place it twice (<c>Retry-After</c>)</description></item>
/// <item><term>504 component-timeout</term><description>no answer within the IQ timeout (the command may still have been executed)</description></item>
/// </list>
/// </summary>
public static class ProblemTypes
{
    public static readonly ProblemType ValidationFailed = new("validation-failed", 400, "The request is invalid.");
    public static readonly ProblemType MalformedRequest = new("malformed-request", 400, "The request could not be read.");
    public static readonly ProblemType InvalidIdempotencyKey = new("invalid-idempotency-key", 400, "The Idempotency-Key header is invalid.");
    public static readonly ProblemType Unauthorized = new("unauthorized", 401, "A valid API key is required.");
    public static readonly ProblemType OutOfScope = new("out-of-scope", 403, "The API key does not cover these SIP addresses.");
    public static readonly ProblemType DestinationNotAllowed = new("destination-not-allowed", 403, "The API key may not call this destination.");
    public static readonly ProblemType AdminScopeRequired = new("admin-scope-required", 403, "Only an API key with scope '*' may do this.");
    public static readonly ProblemType ComponentForbidden = new("component-forbidden", 403, "The Active-Calls service refused the command.");
    public static readonly ProblemType NotFound = new("not-found", 404, "Not found.");
    public static readonly ProblemType CallNotFound = new("call-not-found", 404, "The call is not known.");
    public static readonly ProblemType WebhookNotFound = new("webhook-not-found", 404, "The webhook subscription is not known.");
    public static readonly ProblemType FollowedUserNotFound = new("followed-user-not-found", 404, "The SIP user is not followed.");
    public static readonly ProblemType DeliveryNotFound = new("delivery-not-found", 404, "The webhook delivery is not known.");
    public static readonly ProblemType StatusCallbackNotFound = new("status-callback-not-found", 404, "The call has no status callback of this API key.");
    public static readonly ProblemType MethodNotAllowed = new("method-not-allowed", 405, "Method not allowed.");
    public static readonly ProblemType CallSetupIdInUse = new("call-setup-id-in-use", 409, "The call-setup-id is already used by another call.");
    public static readonly ProblemType CallNotConnected = new("call-not-connected", 409, "Only a connected call can be transferred.");
    public static readonly ProblemType ComponentConflict = new("component-conflict", 409, "The Active-Calls service reported a conflict.");
    public static readonly ProblemType WebhookLimitReached = new("webhook-limit-reached", 409, "The API key holds as many webhook subscriptions as it may.");
    public static readonly ProblemType FollowedUserExists = new("followed-user-exists", 409, "The SIP user is followed already.");
    public static readonly ProblemType FollowedUserConfigured = new("followed-user-configured", 409, "The followed user comes from the configuration.");
    public static readonly ProblemType WebhookDisabled = new("webhook-disabled", 409, "The webhook subscription is disabled.");
    public static readonly ProblemType StatusCallbackSecretRequired =
        new("status-callback-secret-required", 409, "The API key needs a status-callback secret first (POST /webhooks/status-callback-secret).");
    public static readonly ProblemType PayloadTooLarge = new("payload-too-large", 413, "The request body is too large.");
    public static readonly ProblemType UnsupportedMediaType = new("unsupported-media-type", 415, "The request body must be application/json.");
    public static readonly ProblemType CommandRejected = new("command-rejected", 422, "The Active-Calls service rejected the command's fields.");
    public static readonly ProblemType CommandFailed = new("command-failed", 422, "The Active-Calls service could not carry out the command.");
    public static readonly ProblemType FromNotFollowed = new("from-not-followed", 422, "The gateway does not follow the calls of 'from'.");
    public static readonly ProblemType IdempotencyKeyReused = new("idempotency-key-reused", 422, "The Idempotency-Key was used with a different request.");
    public static readonly ProblemType RateLimited = new("rate-limited", 429, "Too many requests for this API key.");
    public static readonly ProblemType InternalError = new("internal-error", 500, "An unexpected error occurred.");
    public static readonly ProblemType ComponentError = new("component-error", 502, "The Active-Calls service failed.");
    public static readonly ProblemType ComponentUnavailable = new("component-unavailable", 503, "The Active-Calls service is unavailable.");
    public static readonly ProblemType XmppUnavailable = new("xmpp-unavailable", 503, "No XMPP connection is available.");
    public static readonly ProblemType CreateOutcomeUnknown = new("create-outcome-unknown", 503, "Whether an earlier create placed this call is not known yet.");
    public static readonly ProblemType ComponentTimeout = new("component-timeout", 504, "The Active-Calls service did not answer in time.");
    public static readonly ProblemType RequestTimeout = new("request-timeout", 504, "The request took too long.");

    /// <summary>A bare status code no other type names (its status is the one answered).</summary>
    public static readonly ProblemType ClientError = new("client-error", 400, "Client error.");

    /// <inheritdoc cref="ClientError"/>
    public static readonly ProblemType ServerError = new("server-error", 500, "Server error.");

    public static IReadOnlyList<ProblemType> All { get; } =
    [
        ValidationFailed, MalformedRequest, InvalidIdempotencyKey, Unauthorized, OutOfScope, DestinationNotAllowed, AdminScopeRequired, ComponentForbidden, NotFound, CallNotFound,
        WebhookNotFound, DeliveryNotFound, FollowedUserNotFound, MethodNotAllowed, CallSetupIdInUse, CallNotConnected, ComponentConflict, WebhookLimitReached,
        WebhookDisabled, StatusCallbackNotFound, StatusCallbackSecretRequired, FollowedUserExists, FollowedUserConfigured, PayloadTooLarge, UnsupportedMediaType,
        CommandRejected, CommandFailed, FromNotFollowed, IdempotencyKeyReused, RateLimited, InternalError, ComponentError, ComponentUnavailable,
        XmppUnavailable, CreateOutcomeUnknown, ComponentTimeout, RequestTimeout, ClientError, ServerError,
    ];

    /// <summary>The generic problem for a bare status code (status code pages).</summary>
    public static ProblemType ForStatus(int status) => status switch
    {
        400 => MalformedRequest,
        401 => Unauthorized,
        404 => NotFound,
        405 => MethodNotAllowed,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        429 => RateLimited,
        503 => ComponentUnavailable,
        504 => RequestTimeout,
        _ => (status >= 500 ? ServerError : ClientError) with { Status = status },
    };
}
