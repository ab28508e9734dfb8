using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;

namespace Gateway.Xmpp.ActiveCalls;

/// <summary>The <c>dialog-state</c> of an active call (a per-dialog projection of RFC 4235 states). There is no
/// "terminated": the end of a call is a retract of its item.</summary>
public enum ActiveCallDialogState
{
    /// <summary>Empty, missing or a value this library does not know (kept in <see cref="ActiveCallItem.DialogStateText"/>).</summary>
    Unknown,
    /// <summary>An outbound call is being dialed.</summary>
    Created,
    /// <summary>An inbound call is ringing a UA.</summary>
    Requested,
    /// <summary>Answered.</summary>
    Confirmed,
}

/// <summary>
/// An <c>{onsip:active-calls}active-call</c> payload. Unknown values are null; empty strings are stored as null.
/// Parsing follows OnSIP's own clients: children by local name, case-insensitively, unknown children ignored, the first
/// of a repeated child wins. <see cref="ToXml"/> writes every child in the fixed order, empty when unknown.
/// </summary>
public sealed record ActiveCallItem
{
    private const string PublishTimeFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";

    private enum Field { DialogState, ToAor, CallId, FromUri, ToUri, FromTag, ToTag, Branch, CallSetupId, FromDisplay, ToDisplay }

    /// <summary>The wire's fixed child order.</summary>
    private static readonly (Field Field, string Name)[] Order =
    [
        (Field.DialogState, "dialog-state"),
        (Field.ToAor, "to-aor"),
        (Field.CallId, "call-id"),
        (Field.FromUri, "from-uri"),
        (Field.ToUri, "to-uri"),
        (Field.FromTag, "from-tag"),
        (Field.ToTag, "to-tag"),
        (Field.Branch, "branch"),
        (Field.CallSetupId, "call-setup-id"),
        (Field.FromDisplay, "from-display"),
        (Field.ToDisplay, "to-display"),
    ];

    private static readonly Dictionary<string, Field> ByName =
        Order.ToDictionary(o => o.Name, o => o.Field, StringComparer.OrdinalIgnoreCase);

    private readonly ActiveCallDialogState _dialogState;
    private readonly string? _dialogStateText;

    /// <summary>The parsed dialog state. Setting it also sets <see cref="DialogStateText"/> to the canonical lower-case word
    /// (or null for <see cref="ActiveCallDialogState.Unknown"/>).</summary>
    public ActiveCallDialogState DialogState
    {
        get => _dialogState;
        init
        {
            _dialogState = value;
            _dialogStateText = value switch
            {
                ActiveCallDialogState.Created => "created",
                ActiveCallDialogState.Requested => "requested",
                ActiveCallDialogState.Confirmed => "confirmed",
                _ => null,
            };
        }
    }

    /// <summary>The <c>dialog-state</c> text as on the wire (trimmed), also for values this library does not know.
    /// Setting it also sets <see cref="DialogState"/>.</summary>
    public string? DialogStateText
    {
        get => _dialogStateText;
        init
        {
            _dialogStateText = Normalize(value);
            _dialogState = ParseDialogState(_dialogStateText);
        }
    }

    /// <summary>The AOR of the UA being called, without <c>sip:</c> (empty on <c>created</c>).</summary>
    public string? ToAor { get; init => field = Normalize(value); }
    public string? CallId { get; init => field = Normalize(value); }
    /// <summary>The full From URI with <c>sip:</c> (URI parameters are passed through).</summary>
    public string? FromUri { get; init => field = Normalize(value); }
    /// <summary>The full To URI with <c>sip:</c>.</summary>
    public string? ToUri { get; init => field = Normalize(value); }
    public string? FromTag { get; init => field = Normalize(value); }
    /// <summary>Empty until the dialog is confirmed.</summary>
    public string? ToTag { get; init => field = Normalize(value); }
    /// <summary>The Via branch of the forked INVITE (set on <c>requested</c>).</summary>
    public string? Branch { get; init => field = Normalize(value); }
    /// <summary>The <c>call-setup-id</c> of a click-to-call <c>create</c>; empty on ordinary calls.</summary>
    public string? CallSetupId { get; init => field = Normalize(value); }
    /// <summary>Display name; may arrive quoted.</summary>
    public string? FromDisplay { get; init => field = Normalize(value); }
    public string? ToDisplay { get; init => field = Normalize(value); }

    /// <summary>The <c>publish-time</c> attribute. Written in UTC to whole seconds.</summary>
    public DateTimeOffset? PublishTime { get; init; }

    /// <summary>Reads an <c>active-call</c> element (any namespace, names compared case-insensitively).</summary>
    /// <exception cref="ArgumentException">the element is not an <c>active-call</c>.</exception>
    public static ActiveCallItem Parse(XElement activeCall)
    {
        ArgumentNullException.ThrowIfNull(activeCall);
        if (!IsActiveCall(activeCall))
            throw new ArgumentException($"Expected an active-call element, got '{activeCall.Name}'.", nameof(activeCall));

        var values = new string?[Order.Length];
        var seen = new bool[Order.Length];
        foreach (var child in activeCall.Elements())
        {
            if (!ByName.TryGetValue(child.Name.LocalName, out var field) || seen[(int)field]) continue;
            seen[(int)field] = true;
            values[(int)field] = child.Value;
        }

        var publishTime = activeCall.Attributes()
            .FirstOrDefault(a => !a.IsNamespaceDeclaration && string.Equals(a.Name.LocalName, "publish-time", StringComparison.OrdinalIgnoreCase))?.Value;

        return new ActiveCallItem
        {
            DialogStateText = values[(int)Field.DialogState],
            ToAor = values[(int)Field.ToAor],
            CallId = values[(int)Field.CallId],
            FromUri = values[(int)Field.FromUri],
            ToUri = values[(int)Field.ToUri],
            FromTag = values[(int)Field.FromTag],
            ToTag = values[(int)Field.ToTag],
            Branch = values[(int)Field.Branch],
            CallSetupId = values[(int)Field.CallSetupId],
            FromDisplay = values[(int)Field.FromDisplay],
            ToDisplay = values[(int)Field.ToDisplay],
            PublishTime = DateTimeOffset.TryParse(publishTime, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null,
        };
    }

    /// <summary>Reads the item's payload when it is an <c>active-call</c> (the first child of the item; any further
    /// <c>active-call</c> is ignored, as OXJS does).</summary>
    public static bool TryParse(PubSubItem item, [NotNullWhen(true)] out ActiveCallItem? activeCall)
    {
        ArgumentNullException.ThrowIfNull(item);
        activeCall = item.Payload is { } payload && IsActiveCall(payload) ? Parse(payload) : null;
        return activeCall is not null;
    }

    /// <summary>
    /// Writes <c>&lt;active-call xmlns='onsip:active-calls' publish-time='…'&gt;</c> with every child in the fixed order
    /// (dialog-state, to-aor, call-id, from-uri, to-uri, from-tag, to-tag, branch, call-setup-id, from-display, to-display),
    /// empty elements for unknown values. <c>publish-time</c> is omitted when <see cref="PublishTime"/> is null.
    /// Characters XML 1.0 cannot carry (control characters, lone surrogates) are dropped; everything else is escaped by the writer.
    /// </summary>
    public XElement ToXml()
    {
        var element = new XElement(Ns.ActiveCalls + "active-call");
        if (PublishTime is { } time)
            element.Add(new XAttribute("publish-time", time.UtcDateTime.ToString(PublishTimeFormat, CultureInfo.InvariantCulture)));
        foreach (var (field, name) in Order)
            element.Add(new XElement(Ns.ActiveCalls + name, XmlSafe(Get(field))));
        return element;
    }

    private string? Get(Field field) => field switch
    {
        Field.DialogState => DialogStateText,
        Field.ToAor => ToAor,
        Field.CallId => CallId,
        Field.FromUri => FromUri,
        Field.ToUri => ToUri,
        Field.FromTag => FromTag,
        Field.ToTag => ToTag,
        Field.Branch => Branch,
        Field.CallSetupId => CallSetupId,
        Field.FromDisplay => FromDisplay,
        Field.ToDisplay => ToDisplay,
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    private static bool IsActiveCall(XElement element) =>
        string.Equals(element.Name.LocalName, "active-call", StringComparison.OrdinalIgnoreCase);

    private static string? Normalize(string? value)
    {
        if (value is null) return null;
        var trimmed = value.Trim();
        return trimmed.Length == 0 ? null : trimmed;
    }

    private static ActiveCallDialogState ParseDialogState(string? text) => text switch
    {
        null => ActiveCallDialogState.Unknown,
        _ when text.Equals("created", StringComparison.OrdinalIgnoreCase) => ActiveCallDialogState.Created,
        _ when text.Equals("requested", StringComparison.OrdinalIgnoreCase) => ActiveCallDialogState.Requested,
        _ when text.Equals("confirmed", StringComparison.OrdinalIgnoreCase) => ActiveCallDialogState.Confirmed,
        _ => ActiveCallDialogState.Unknown,
    };

    private static string? XmlSafe(string? value)
    {
        if (value is null) return null;
        var i = 0;
        for (; i < value.Length; i++)
        {
            if (XmlConvert.IsXmlChar(value[i])) continue;
            if (i + 1 < value.Length && XmlConvert.IsXmlSurrogatePair(value[i + 1], value[i])) { i++; continue; }
            break;
        }
        if (i == value.Length) return value;

        var builder = new StringBuilder(value.Length);
        builder.Append(value, 0, i);
        for (; i < value.Length; i++)
        {
            if (XmlConvert.IsXmlChar(value[i])) builder.Append(value[i]);
            else if (i + 1 < value.Length && XmlConvert.IsXmlSurrogatePair(value[i + 1], value[i])) builder.Append(value, i++, 2);
        }
        return builder.ToString();
    }
}
