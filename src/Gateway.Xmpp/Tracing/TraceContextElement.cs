using System.Diagnostics;
using System.Xml.Linq;

namespace Gateway.Xmpp.Tracing;

/// <summary>
/// W3C trace context carried across XMPP: <c>&lt;trace-context xmlns='urn:activecalls-gateway:trace-context:0'
/// traceparent='00-…-…-01' tracestate='…'/&gt;</c>, a child of the XEP-0050 <c>&lt;command/&gt;</c> (an IQ get/set has
/// exactly one payload child, so the context travels inside it). A responder that does not know the namespace ignores
/// the element, as XEP-0050 responders ignore unknown children of <c>&lt;command/&gt;</c>.
/// </summary>
/// <remarks>What a stranger sends is read defensively: a <c>traceparent</c> that is not exactly the W3C version-00 form
/// (55 characters, lower-case hex, neither id all zeros), or a <c>tracestate</c> longer than <see cref="MaxTraceStateLength"/>
/// or not in the W3C list syntax, is ignored whole (no context), never an error of the command.</remarks>
public static class TraceContextElement
{
    public static readonly XNamespace Namespace = "urn:activecalls-gateway:trace-context:0";
    public static readonly XName Name = Namespace + "trace-context";

    /// <summary>The W3C limit: 32 list members of at most 256 characters each, with separators.</summary>
    public const int MaxTraceStateLength = 512;

    private const int TraceParentLength = 55;

    /// <summary>The element for <paramref name="context"/>; null for an invalid (default) context.</summary>
    public static XElement? Format(ActivityContext context)
    {
        if (context.TraceId == default || context.SpanId == default) return null;
        var element = new XElement(Name, new XAttribute("traceparent", FormatTraceParent(context)));
        if (!string.IsNullOrEmpty(context.TraceState) && IsValidTraceState(context.TraceState))
            element.Add(new XAttribute("tracestate", context.TraceState));
        return element;
    }

    /// <summary>The W3C <c>traceparent</c> of <paramref name="context"/>: <c>00-{trace-id}-{span-id}-{flags}</c>.</summary>
    public static string FormatTraceParent(ActivityContext context) =>
        $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{((context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}";

    /// <summary>Reads the context carried by <paramref name="command"/>'s <c>&lt;trace-context/&gt;</c> child: false when
    /// there is none, or when the first one is not a valid W3C context (the element is then ignored).</summary>
    public static bool TryRead(XElement command, out ActivityContext context)
    {
        ArgumentNullException.ThrowIfNull(command);
        context = default;
        if (command.Element(Name) is not { } element) return false;
        var traceState = (string?)element.Attribute("tracestate");
        if (traceState is not null && !IsValidTraceState(traceState)) return false;
        return TryParseTraceParent((string?)element.Attribute("traceparent"), traceState, out context);
    }

    /// <summary>Parses a version-00 <c>traceparent</c> strictly (the exact W3C form, lower-case hex only).</summary>
    public static bool TryParseTraceParent(string? traceParent, string? traceState, out ActivityContext context)
    {
        context = default;
        if (traceParent is not { Length: TraceParentLength }) return false;
        if (!traceParent.StartsWith("00-", StringComparison.Ordinal) || traceParent[35] != '-' || traceParent[52] != '-') return false;
        for (var i = 3; i < TraceParentLength; i++)
            if (i is not (35 or 52) && !char.IsAsciiHexDigitLower(traceParent[i]) && !char.IsAsciiDigit(traceParent[i])) return false;
        var traceId = traceParent.AsSpan(3, 32);
        var spanId = traceParent.AsSpan(36, 16);
        if (traceId.IndexOfAnyExcept('0') < 0 || spanId.IndexOfAnyExcept('0') < 0) return false;
        var flags = Convert.FromHexString(traceParent.AsSpan(53, 2))[0];
        context = new ActivityContext(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateFromString(spanId),
            (ActivityTraceFlags)(flags & (byte)ActivityTraceFlags.Recorded), traceState, isRemote: true);
        return true;
    }

    /// <summary>The W3C list syntax, loosely: at most <see cref="MaxTraceStateLength"/> printable ASCII characters of
    /// <c>key=value</c> members separated by commas.</summary>
    private static bool IsValidTraceState(string traceState)
    {
        if (traceState.Length > MaxTraceStateLength) return false;
        foreach (var c in traceState)
            if (c is < ' ' or > '~') return false;
        foreach (var member in traceState.Split(','))
        {
            var trimmed = member.Trim();
            if (trimmed.Length == 0) continue;
            var equals = trimmed.IndexOf('=');
            if (equals <= 0 || equals == trimmed.Length - 1) return false;
        }
        return true;
    }
}
