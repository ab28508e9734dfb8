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

/// <summary>The API key behind a request: its name (idempotency and rate-limit partition) and address scope.</summary>
public static class ApiKeyPrincipal
{
    public static string? KeyName(this ClaimsPrincipal user) => user?.FindFirst(ApiKeyDefaults.KeyNameClaim)?.Value;

    public static AddressScope Scope(this ClaimsPrincipal user) =>
        new(user?.FindAll(ApiKeyDefaults.ScopeClaim).Select(c => c.Value) ?? []);
}
