namespace Gateway.Client;

/// <summary>What a call stream follows: every call the API key may see, the calls of one address, or one call.</summary>
public sealed record CallStreamScope
{
    private CallStreamScope(string scope, string? address, string? callId)
    {
        Scope = scope;
        Address = address;
        CallId = callId;
    }

    /// <summary>Every call the API key may see.</summary>
    public static CallStreamScope All { get; } = new("all", null, null);

    /// <summary>The calls with a party or leg at <paramref name="address"/> (user@domain or sip:user@domain).</summary>
    public static CallStreamScope OfAddress(string address) => new("address", address, null);

    /// <summary>One call, by its id or the SIP Call-ID of one of its legs.</summary>
    public static CallStreamScope OfCall(string callId) => new("call", null, callId);

    /// <summary><c>all</c>, <c>address</c> or <c>call</c>.</summary>
    public string Scope { get; }

    /// <summary>With <c>address</c>: the SIP address.</summary>
    public string? Address { get; }

    /// <summary>With <c>call</c>: the call's id or a SIP Call-ID.</summary>
    public string? CallId { get; }

    /// <summary>Start after this cursor (a <see cref="CallStreamItem.Cursor"/> kept from an earlier stream) instead of
    /// with a snapshot.</summary>
    public string? AfterCursor { get; init; }
}

/// <summary>One message of a call stream. Keep the last <see cref="Cursor"/> to resume a later stream after it.</summary>
public abstract record CallStreamItem(string Cursor);

/// <summary>The calls the stream sees as of <see cref="CallStreamItem.Cursor"/>: first on a new stream, and with
/// <see cref="Reset"/> when a resume could not be replayed (replace what you hold with <see cref="Calls"/>).</summary>
public sealed record CallStreamSnapshot(string Cursor, bool Reset, IReadOnlyList<CallResource> Calls) : CallStreamItem(Cursor);

/// <summary>One call event, in the order the gateway saw them; after a reconnect the stream goes on with the next one.</summary>
public sealed record CallStreamEvent(string Cursor, CallEvent Event) : CallStreamItem(Cursor);
