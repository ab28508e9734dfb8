using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Auth;

public static class ApiKeyDefaults
{
    public const string Scheme = "ApiKey";
    public const string Policy = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    /// <summary>The query parameter SignalR clients put the key in on the hub's WebSocket and SSE requests.</summary>
    public const string QueryTokenName = "access_token";
    public const string KeyNameClaim = "api_key";
    public const string ScopeClaim = "sip_scope";
    /// <summary>A scope that names no address: the key may read the Prometheus metrics (so may a <c>*</c> key).</summary>
    public const string MetricsScope = "metrics";
    public const string DestinationClaim = "sip_destination";
}

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> (on the SignalR hub also
/// <c>?access_token=&lt;key&gt;</c>) against the SHA-256 hashes
/// of <c>Gateway:ApiKeys</c>, comparing in constant time. Challenges and refusals are problem+json.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IOptionsMonitor<ApiKeysOptions> keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string PresentedKeyItem = "api-key-presented";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = ReadKey(Request);
        if (presented is null) return Task.FromResult(AuthenticateResult.NoResult());
        Context.Items[PresentedKeyItem] = true;

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        ApiKeyDefinition? match = null;
        Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
        foreach (var key in keys.CurrentValue.ApiKeys)
        {
            if (Convert.FromHexString(key.Hash, expected, out _, out var written) != System.Buffers.OperationStatus.Done || written != expected.Length) continue;
            // Every configured key is compared, in constant time, whether or not one already matched.
            if (CryptographicOperations.FixedTimeEquals(hash, expected)) match ??= key;
        }
        if (match is null) return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));

        var claims = new List<Claim> { new(ApiKeyDefaults.KeyNameClaim, match.Name), new(ClaimTypes.Name, match.Name) };
        claims.AddRange(match.Scopes.Select(s => new Claim(ApiKeyDefaults.ScopeClaim, s)));
        claims.AddRange(match.EffectiveDestinations().Select(d => new Claim(ApiKeyDefaults.DestinationClaim, d)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyDefaults.Scheme, ClaimTypes.Name, null));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, ApiKeyDefaults.Scheme)));
    }

    internal static string? ReadKey(HttpRequest request)
    {
        if (request.Headers.Authorization.ToString() is { Length: > 7 } authorization &&
            authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization[7..].Trim() is { Length: > 0 } bearer ? bearer : null;
        if (request.Headers[ApiKeyDefaults.HeaderName].ToString() is { Length: > 0 } header) return header.Trim();
        // Browsers cannot set headers on WebSocket and EventSource requests, so SignalR clients send the key as
        // ?access_token=: accepted on the hub's path only, never on the REST API.
        if (request.Path.StartsWithSegments(Streaming.CallsHub.Path, StringComparison.OrdinalIgnoreCase) &&
            request.Query[ApiKeyDefaults.QueryTokenName] is [{ Length: > 0 } token])
            return token.Trim();
        return null;
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var presented = Context.Items.ContainsKey(PresentedKeyItem);
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = presented
            ? "Bearer realm=\"active-calls-gateway\", error=\"invalid_token\", error_description=\"The API key is not valid.\""
            : "Bearer realm=\"active-calls-gateway\"";
        var detail = presented
            ? "The API key is not valid."
            : $"Send an API key as 'Authorization: Bearer <key>' or '{ApiKeyDefaults.HeaderName}: <key>'.";
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = Problems.Create(ProblemTypes.Unauthorized, detail) });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = Problems.Create(ProblemTypes.OutOfScope, "The API key does not allow this request."),
        });
    }
}

/// <summary>The API key behind a request: its name (idempotency and rate-limit partition), address scope and
/// destination scope (none without a key: nothing may be called).</summary>
public static class ApiKeyPrincipal
{
    public static string? KeyName(this ClaimsPrincipal user) => user?.FindFirst(ApiKeyDefaults.KeyNameClaim)?.Value;

    public static AddressScope Scope(this ClaimsPrincipal user) =>
        new(user?.FindAll(ApiKeyDefaults.ScopeClaim).Select(c => c.Value) ?? []);

    public static DestinationScope Destinations(this ClaimsPrincipal user) =>
        new(user?.FindAll(ApiKeyDefaults.DestinationClaim).Select(c => c.Value) ?? []);
}

/// <summary>At start-up, says which keys have no <c>Destinations</c> and what they may call instead: after an upgrade
/// that is how an operator learns why a phone number is now refused.</summary>
internal sealed class ApiKeyDestinationsReport(IOptions<ApiKeysOptions> keys, ILogger<ApiKeyDestinationsReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var apiKeys = keys.Value.ApiKeys;
        for (var i = 0; i < apiKeys.Count; i++)
        {
            // A key for Prometheus alone acts for nobody: it has nothing to call.
            if (apiKeys[i].Destinations.Count > 0 || apiKeys[i].Scopes.All(s => s == ApiKeyDefaults.MetricsScope)) continue;
            logger.LogWarning(
                "API key '{Name}' has no Gateway:ApiKeys:{Index}:Destinations, so it may call only {Destinations}: named SIP users of the " +
                "domains it acts for, no phone number. List what it may call there, e.g. \"1555*@example.com\" for numbers, or \"*\" for anything.",
                apiKeys[i].Name, i, string.Join(", ", apiKeys[i].EffectiveDestinations()));
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
