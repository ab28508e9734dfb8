using System.Text.RegularExpressions;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Transport;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Configuration;

/// <summary>What data annotations cannot say about <see cref="XmppOptions"/>.</summary>
internal sealed class XmppOptionsValidator : IValidateOptions<XmppOptions>
{
    public ValidateOptionsResult Validate(string? name, XmppOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrEmpty(options.Jid) && (!Jid.TryParse(options.Jid, out var jid) || jid is null || jid.Local is null || jid.Resource is not null))
            failures.Add($"Gateway:Xmpp:Jid '{options.Jid}' is not a bare JID with a local part (user@domain, no resource).");
        if (!string.IsNullOrEmpty(options.Endpoint))
        {
            try
            {
                // The library speaks ws:// and http:// (RequireTls = false); the gateway does not, since its password, the
                // followed users' web passwords and every call would cross the network in clear.
                if (XmppEndpoint.Parse(options.Endpoint).Uri is { Scheme: "ws" or "http" } plain)
                    failures.Add($"Gateway:Xmpp:Endpoint '{plain}' is not encrypted: use {(plain.Scheme == "ws" ? "wss" : "https")}:// (a TLS-terminating proxy in front of the server is fine) or xmpp:// (STARTTLS).");
            }
            catch (ArgumentException e) { failures.Add("Gateway:Xmpp:Endpoint: " + e.Message); }
        }
        if (!string.IsNullOrEmpty(options.TrustedCertificatePath) && !File.Exists(options.TrustedCertificatePath))
            failures.Add($"Gateway:Xmpp:TrustedCertificatePath '{options.TrustedCertificatePath}' does not exist (the dev stack writes its CA there: run scripts/stack.sh first).");
        if (options.IqTimeout <= TimeSpan.Zero) failures.Add("Gateway:Xmpp:IqTimeout must be positive.");
        if (options.ConnectTimeout <= TimeSpan.Zero) failures.Add("Gateway:Xmpp:ConnectTimeout must be positive.");
        if (options.InstanceName is { Length: > 0 } instance && !Regex.IsMatch(instance, "^[A-Za-z0-9._-]{1,64}$"))
            failures.Add($"Gateway:Xmpp:InstanceName '{instance}' may only hold letters, digits, '.', '_' and '-' (at most 64).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class ComponentsOptionsValidator : IValidateOptions<ComponentsOptions>
{
    public ValidateOptionsResult Validate(string? name, ComponentsOptions options)
    {
        var value = options.Commands;
        if (string.IsNullOrEmpty(value)) return ValidateOptionsResult.Success; // [Required] reports it missing
        return Jid.TryParse(value, out var jid) && jid is { Local: null, Resource: null }
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Gateway:Components:Commands '{value}' is not a component JID (a bare domain such as commands.active-calls.example.com).");
    }
}

/// <summary>The HTTP budget must hold the IQ timeout: a 504 from the component must reach the client before the
/// request itself times out.</summary>
internal sealed class HttpApiOptionsValidator(IOptions<XmppOptions> xmpp) : IValidateOptions<HttpApiOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpApiOptions options)
    {
        var failures = new List<string>();
        if (options.RequestTimeout <= TimeSpan.Zero) failures.Add("Gateway:Http:RequestTimeout must be positive.");
        TimeSpan iq;
        try { iq = xmpp.Value.IqTimeout; }
        catch (OptionsValidationException) { iq = TimeSpan.Zero; } // XmppOptions reports its own errors
        if (iq > TimeSpan.Zero && options.RequestTimeout < iq + TimeSpan.FromSeconds(1))
            failures.Add($"Gateway:Http:RequestTimeout ({options.RequestTimeout}) must exceed Gateway:Xmpp:IqTimeout ({iq}) by at least one second, so a component timeout is reported as 504 before the HTTP request itself times out.");
        if (options.UnavailableRetryAfter < TimeSpan.FromSeconds(1)) failures.Add("Gateway:Http:UnavailableRetryAfter must be at least one second.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class ResilienceOptionsValidator : IValidateOptions<ResilienceOptions>
{
    public ValidateOptionsResult Validate(string? name, ResilienceOptions options)
    {
        var failures = new List<string>();
        if (options.BreakerSamplingDuration < TimeSpan.FromMilliseconds(500)) failures.Add("Gateway:Resilience:BreakerSamplingDuration must be at least 0.5 seconds.");
        if (options.BreakerBreakDuration < TimeSpan.FromMilliseconds(500)) failures.Add("Gateway:Resilience:BreakerBreakDuration must be at least 0.5 seconds.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class IdempotencyOptionsValidator : IValidateOptions<IdempotencyOptions>
{
    public ValidateOptionsResult Validate(string? name, IdempotencyOptions options) =>
        options.Ttl < TimeSpan.FromSeconds(1)
            ? ValidateOptionsResult.Fail("Gateway:Idempotency:Ttl must be at least one second.")
            : ValidateOptionsResult.Success;
}

internal sealed class CallsOptionsValidator : IValidateOptions<CallsOptions>
{
    public ValidateOptionsResult Validate(string? name, CallsOptions options)
    {
        var failures = new List<string>();
        if (options.Store == CallStoreKind.Sqlite && string.IsNullOrWhiteSpace(options.DatabasePath))
            failures.Add("Gateway:Calls:DatabasePath is required with the Sqlite store: the SQLite file of calls and their events.");
        if (!Enum.IsDefined(options.Store)) failures.Add("Gateway:Calls:Store must be Sqlite, Memory or Redis.");
        foreach (var (setting, value) in new[]
                 {
                     ("EndedRetention", options.EndedRetention), ("EarlyEventHoldTime", options.EarlyEventHoldTime),
                     ("CalleeLegGrace", options.CalleeLegGrace), ("SetupTimeout", options.SetupTimeout),
                     ("IntentAnswerWait", options.IntentAnswerWait), ("IntentRetryDelay", options.IntentRetryDelay),
                     ("IntentMaxRetryDelay", options.IntentMaxRetryDelay),
                 })
        {
            if (value <= TimeSpan.Zero) failures.Add($"Gateway:Calls:{setting} must be positive.");
        }
        if (options.IntentMaxRetryDelay < options.IntentRetryDelay) failures.Add("Gateway:Calls:IntentMaxRetryDelay must be at least IntentRetryDelay.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>With the Redis store, Redis must be named and the lease long enough to be renewed over a slow network.</summary>
internal sealed class RedisOptionsValidator(IOptions<CallsOptions> calls) : IValidateOptions<Replicas.RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, Replicas.RedisOptions options)
    {
        if (calls.Value.Store != CallStoreKind.Redis) return ValidateOptionsResult.Success;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration))
            failures.Add("Gateway:Redis:Configuration is required with the Redis store, e.g. redis:6379 (a StackExchange.Redis configuration string).");
        if (options.LeaseTime < TimeSpan.FromSeconds(1) || options.LeaseTime > TimeSpan.FromMinutes(5))
            failures.Add("Gateway:Redis:LeaseTime must be between 1 second and 5 minutes.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Every key has a unique name, a well-formed SHA-256 hash, at least one well-formed scope and well-formed
/// destination patterns.</summary>
internal sealed partial class ApiKeysOptionsValidator : IValidateOptions<ApiKeysOptions>
{
    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Hex();

    public ValidateOptionsResult Validate(string? name, ApiKeysOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.ApiKeys.Count; i++)
        {
            var key = options.ApiKeys[i];
            var at = $"Gateway:ApiKeys:{i}";
            if (string.IsNullOrWhiteSpace(key.Name)) failures.Add($"{at}:Name is required.");
            else if (!names.Add(key.Name)) failures.Add($"{at}:Name '{key.Name}' is used by another key.");
            if (!Sha256Hex().IsMatch(key.Hash ?? ""))
                failures.Add($"{at}:Hash must be the 64 hex characters of the key's SHA-256 (e.g. `printf %s \"$KEY\" | sha256sum`), not the key itself.");
            else if (!hashes.Add(key.Hash!)) failures.Add($"{at}:Hash is the same as another key's.");
            if (key.Scopes.Count == 0) failures.Add($"{at}:Scopes must list at least one scope (\"user@domain\", \"*@domain\" or \"*\").");
            foreach (var scope in key.Scopes)
                if (scope != Auth.ApiKeyDefaults.MetricsScope && !Auth.AddressScope.IsWellFormed(scope))
                    failures.Add($"{at}:Scopes entry '{scope}' is not \"user@domain\", \"*@domain\", \"*\" or \"metrics\".");
            foreach (var destination in key.Destinations)
                if (Auth.DestinationScope.Problem(destination) is { } problem)
                    failures.Add($"{at}:Destinations entry '{destination}' {problem}. A destination is \"*\", \"user@domain\", \"*@domain\", \"*@*\" or a number prefix such as \"1555*@domain\".");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
