using System.Buffers.Text;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Api.Commands;

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

    public static Dictionary<string, string[]> ValidateList(string? address, string? state, string? cursor, int? limit,
        out CallState? parsedState, out long after, out int pageSize)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        parsedState = null;
        after = 0;
        pageSize = limit ?? DefaultPageSize;
        if (address is not null && SipUri.AddressOf(address) is null) errors["address"] = ["must be a SIP address (user@domain or sip:user@domain)."];
        if (state is not null)
        {
            var match = Enum.GetValues<CallState>().Where(s => CallRegistry.StateName(s) == state).Select(s => (CallState?)s).FirstOrDefault();
            if (match is null) errors["state"] = ["must be one of: " + string.Join(", ", Enum.GetValues<CallState>().Select(CallRegistry.StateName)) + "."];
            parsedState = match;
        }
        if (cursor is not null && !TryDecodeCursor(cursor, out after)) errors["cursor"] = ["is not a cursor this API returned."];
        if (pageSize is < 1 or > MaxPageSize) errors["limit"] = [$"must be between 1 and {MaxPageSize}."];
        return errors;
    }

    /// <summary>A new call-setup-id: 8 lower-case letters and digits (the form every OnSIP client accepts).</summary>
    public static string NewCallSetupId() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 8);

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
