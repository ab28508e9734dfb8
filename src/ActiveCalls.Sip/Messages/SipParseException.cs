namespace ActiveCalls.Sip.Messages;

/// <summary>
/// Malformed SIP input. When the input was a request whose Via, From, To, Call-ID and CSeq could be read,
/// <see cref="RequestHeaders"/> holds them so the transport can answer <see cref="SuggestedStatus"/> (RFC 3261 §16.3,
/// §8.2); otherwise the message is dropped.
/// </summary>
public sealed class SipParseException : Exception
{
    public SipParseException(string message) : base(message) { }

    public SipParseException(string message, Exception innerException) : base(message, innerException) { }

    public SipParseException() : base("Malformed SIP message.") { }

    /// <summary>The status a request gets for this error: 400 (Bad Request), or 505 (Version Not Supported).</summary>
    public int SuggestedStatus { get; init; } = 400;

    /// <summary>True when the start line looked like a request.</summary>
    public bool IsRequest { get; init; }

    /// <summary>The raw headers of a request, when the header section itself was readable.</summary>
    public SipHeaders? RequestHeaders { get; init; }

    /// <summary>The request method, when the start line was readable.</summary>
    public string? Method { get; init; }
}
