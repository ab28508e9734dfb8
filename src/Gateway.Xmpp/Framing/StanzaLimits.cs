namespace Gateway.Xmpp.Framing;

/// <summary>
/// What one first-level element (a stanza or nonza) may cost to read. A stanza that goes past any of them is dropped
/// on its own and reported as <see cref="XmlStreamEvent.StanzaSkipped"/>; the stream goes on. They protect memory and
/// the code that walks the trees, not the protocol: a server re-serialises what other accounts send, so anything it
/// hands on is well-formed, but it does not know our limits.
/// </summary>
/// <remarks>Only the stream header has no second chance: past a limit there, the stream is refused.</remarks>
public sealed class StanzaLimits
{
    /// <summary>Largest raw size, in bytes, of the stream header or of any first-level element.</summary>
    public int MaxBytes { get; set; } = 1 << 20;

    /// <summary>Deepest nesting below the stream (a stanza is depth 1). Keeps recursive consumers of the trees (deep
    /// equality, serialisers, handlers) clear of stack exhaustion.</summary>
    public int MaxDepth { get; set; } = 128;

    /// <summary>Most attributes on one element: <see cref="System.Xml.Linq.XElement"/> checks duplicates linearly on
    /// every add, so a huge attribute list costs quadratic time.</summary>
    public int MaxAttributes { get; set; } = 256;

    /// <summary>Longest run of character data in one element, in chars.</summary>
    public int MaxTextChars { get; set; } = 256 * 1024;

    /// <summary>Most child elements of one element (a PubSub notification carries one per item).</summary>
    public int MaxChildren { get; set; } = 10_000;

    internal void Validate()
    {
        if (MaxBytes < 1024) throw new ArgumentException($"StanzaLimits.MaxBytes must be at least 1024 (is {MaxBytes}).");
        if (MaxDepth < 8) throw new ArgumentException($"StanzaLimits.MaxDepth must be at least 8 (is {MaxDepth}).");
        if (MaxAttributes < 16) throw new ArgumentException($"StanzaLimits.MaxAttributes must be at least 16 (is {MaxAttributes}).");
        if (MaxTextChars < 1024) throw new ArgumentException($"StanzaLimits.MaxTextChars must be at least 1024 (is {MaxTextChars}).");
        if (MaxChildren < 16) throw new ArgumentException($"StanzaLimits.MaxChildren must be at least 16 (is {MaxChildren}).");
    }
}
