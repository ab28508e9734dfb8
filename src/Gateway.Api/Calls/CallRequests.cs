using System.Buffers.Text;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Commands;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Api.Calls;

/// <summary>Body of <c>POST /calls</c>.</summary>
public sealed record CreateCallRequest
{
    [Required]
    [Description("The SIP URI rung first (sip:user@domain); when it answers, it is connected to 'to'. Must be within the API key's scope (and, when it is a phone number, its destinations: it is dialled first).")]
    public string? From { get; init; }

    [Required]
    [Description("The SIP URI to connect the caller to (sip:user@domain), or a phone number as '<digits>@domain' / 'sip:<digits>@domain'. Must be within the API key's destinations.")]
    public string? To { get; init; }

    [Description("Optional: 8 letters or digits carried end to end by every leg of the call; the gateway makes one up when absent. It becomes the call's id.")]
    public string? CallSetupId { get; init; }

    [Description("Optional: an absolute https URL (http only where Gateway:Webhooks:RequireHttps is off) whose host resolves to public addresses; every event of this call is POSTed there as a Standard Webhook, in order, signed with the API key's status-callback secret (POST /webhooks/status-callback-secret), retried and logged like a registered webhook.")]
    public string? StatusCallback { get; init; }

    [Description("Optional, with statusCallback: only these event types (see CallEvent.type) are sent there; omit for every type.")]
    public IReadOnlyList<string>? StatusCallbackEvents { get; init; }
}

/// <summary>Body of <c>POST /calls/{id}/transfer</c>.</summary>
public sealed record TransferCallRequest
{
    [Required]
    [Description("Which party moves to the target: 'caller' (the other one is hung up) or 'callee'.")]
    public string? Endpoint { get; init; }

    [Required]
    [Description("The SIP URI (or '<digits>@domain' phone number) to transfer the party to. Must be within the API key's destinations.")]
    public string? Target { get; init; }
}

/// <summary>Request validation, done before any XMPP traffic; errors are keyed by JSON member name.</summary>
public static partial class CallValidation
{
    public const int MaxPageSize = 100;
    public const int DefaultPageSize = 50;

    [GeneratedRegex("^[A-Za-z0-9]{8}$")]
    private static partial Regex CallSetupIdPattern();

    public static bool IsCallSetupId(string? value) => value is not null && CallSetupIdPattern().IsMatch(value);

    public static Dictionary<string, string[]> ValidateCreate(CreateCallRequest? request, out string from, out string to, out string? callSetupId)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        from = to = "";
        callSetupId = null;
        if (request is null)
        {
            errors["body"] = ["A JSON object {\"from\", \"to\", \"callSetupId\"?} is required."];
            return errors;
        }
        if (SipUri.Validate(request.From, allowPstnShorthand: false, out from) is { } fromError) errors["from"] = [fromError];
        if (SipUri.Validate(request.To, allowPstnShorthand: true, out to) is { } toError) errors["to"] = [toError];
        if (request.CallSetupId is not null)
        {
            if (IsCallSetupId(request.CallSetupId)) callSetupId = request.CallSetupId;
            else errors["callSetupId"] = ["must be exactly 8 letters or digits (A-Z, a-z, 0-9)."];
        }
        if (errors.Count == 0 && string.Equals(SipUri.AddressOf(from), SipUri.AddressOf(to), StringComparison.Ordinal))
            errors["to"] = ["must differ from 'from'."];
        return errors;
    }

    public static Dictionary<string, string[]> ValidateTransfer(TransferCallRequest? request, out TransferEndpoint endpoint, out string target)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        endpoint = TransferEndpoint.Callee;
        target = "";
        if (request is null)
        {
            errors["body"] = ["A JSON object {\"endpoint\", \"target\"} is required."];
            return errors;
        }
        switch (request.Endpoint)
        {
            case "caller": endpoint = TransferEndpoint.Caller; break;
            case "callee": endpoint = TransferEndpoint.Callee; break;
            case null or "": errors["endpoint"] = ["is required: 'caller' or 'callee'."]; break;
            default: errors["endpoint"] = ["must be 'caller' or 'callee'."]; break;
        }
        if (SipUri.Validate(request.Target, allowPstnShorthand: true, out target) is { } targetError) errors["target"] = [targetError];
        return errors;
    }

    public static Dictionary<string, string[]> ValidateList(CallListQuery request, out CallQuery query)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var pageSize = request.Limit ?? DefaultPageSize;
        long after = 0;
        CallState? state = null;
        string? address = null;
        if (request.Address is not null && (address = SipUri.AddressOf(request.Address)) is null)
            errors["address"] = ["must be a SIP address (user@domain or sip:user@domain)."];
        if (request.State is not null)
        {
            state = Enum.GetValues<CallState>().Where(s => CallStateMachine.StateName(s) == request.State).Select(s => (CallState?)s).FirstOrDefault();
            if (state is null) errors["state"] = ["must be one of: " + string.Join(", ", Enum.GetValues<CallState>().Select(CallStateMachine.StateName)) + "."];
        }
        if (request.Cursor is not null && !TryDecodeCursor(request.Cursor, out after)) errors["cursor"] = ["is not a cursor this API returned."];
        if (pageSize is < 1 or > MaxPageSize) errors["limit"] = [$"must be between 1 and {MaxPageSize}."];
        if (request.CreatedAfter >= request.CreatedBefore) errors["createdBefore"] = ["must be later than createdAfter."];
        if (request.EndedAfter >= request.EndedBefore) errors["endedBefore"] = ["must be later than endedAfter."];
        if ((request.EndedAfter ?? request.EndedBefore) is not null && state is not (null or CallState.Ended))
            errors["state"] = ["endedAfter and endedBefore go with state=ended (or no state)."];
        // An end-time filter only makes sense for ended calls: it selects them without state=ended.
        if (state is null && (request.EndedAfter ?? request.EndedBefore) is not null) state = CallState.Ended;
        query = new CallQuery
        {
            State = state,
            Address = address,
            CreatedAfter = request.CreatedAfter,
            CreatedBefore = request.CreatedBefore,
            EndedAfter = request.EndedAfter,
            EndedBefore = request.EndedBefore,
            After = after,
            Limit = pageSize,
        };
        return errors;
    }

    private const string CallSetupIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A new call-setup-id: 8 lower-case letters and digits (the form every OnSIP client accepts).</summary>
    public static string NewCallSetupId() => RandomNumberGenerator.GetString(CallSetupIdAlphabet, 8);

    /// <summary>
    /// The call-setup-id of a create sent with an Idempotency-Key and without a call-setup-id: derived from the API key,
    /// the Idempotency-Key and the parties, so every retry of that request (also one that executes again: after a 503, or
    /// after the gateway restarted mid-request) names the same call, and the gateway can tell a repeat from a new call.
    /// </summary>
    public static string CallSetupIdFor(string? apiKey, string idempotencyKey, string from, string to)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"call-setup-id\n{apiKey}\n{idempotencyKey}\n{from}\n{to}"));
        return string.Create(8, hash, (id, bytes) =>
        {
            for (var i = 0; i < id.Length; i++) id[i] = CallSetupIdAlphabet[bytes[i] % CallSetupIdAlphabet.Length];
        });
    }

    public static string EncodeCursor(long position) => EncodeCursor("calls", position);

    public static bool TryDecodeCursor(string cursor, out long position) => TryDecodeCursor("calls", cursor, out position);

    /// <summary>An opaque page cursor: base64url of "{kind}:{position}", so a cursor of one list is refused by another.</summary>
    public static string EncodeCursor(string kind, long position) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(kind + ":" + position.ToString(CultureInfo.InvariantCulture)));

    public static bool TryDecodeCursor(string kind, string cursor, out long position)
    {
        ArgumentNullException.ThrowIfNull(kind);
        position = 0;
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            return text.StartsWith(kind + ":", StringComparison.Ordinal) &&
                   long.TryParse(text.AsSpan(kind.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out position);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>The query of <c>GET /calls</c>.</summary>
public sealed class CallListQuery
{
    [FromQuery(Name = "address"), Description("Only calls with a party or leg at this SIP address (user@domain or sip:user@domain).")]
    public string? Address { get; init; }

    [FromQuery(Name = "state"), Description("Only calls in this state (requested, caller-ringing, caller-answered, callee-ringing, connected, ended); by default every state but ended.")]
    public string? State { get; init; }

    [FromQuery(Name = "createdAfter"), Description("Only calls created at or after this time (RFC 3339).")]
    public DateTimeOffset? CreatedAfter { get; init; }

    [FromQuery(Name = "createdBefore"), Description("Only calls created before this time (RFC 3339).")]
    public DateTimeOffset? CreatedBefore { get; init; }

    [FromQuery(Name = "endedAfter"), Description("Only calls that ended at or after this time (RFC 3339); implies state=ended.")]
    public DateTimeOffset? EndedAfter { get; init; }

    [FromQuery(Name = "endedBefore"), Description("Only calls that ended before this time (RFC 3339); implies state=ended.")]
    public DateTimeOffset? EndedBefore { get; init; }

    [FromQuery(Name = "cursor"), Description("The nextCursor of the previous page.")]
    public string? Cursor { get; init; }

    [FromQuery(Name = "limit"), Description("Page size, 1 to 100 (default 50).")]
    public int? Limit { get; init; }
}
