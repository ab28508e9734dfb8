using System.Xml.Linq;

namespace Gateway.Xmpp.Core;

/// <summary>The error <c>type</c> attribute of a stanza error (RFC 6120 §8.3.2).</summary>
public enum StanzaErrorType { Auth, Cancel, Continue, Modify, Wait }

/// <summary>A stanza error as a value: type, defined condition, optional text, application condition and legacy code.</summary>
/// <param name="Condition">The RFC 6120 defined condition's element name, e.g. <c>bad-request</c>.</param>
/// <param name="ApplicationCondition">An application-specific condition such as XEP-0050's <c>bad-payload</c>.</param>
/// <param name="ConditionText">Text carried inside the condition element (e.g. the URI of a <c>redirect</c>).</param>
public sealed record StanzaError(
    StanzaErrorType Type,
    string Condition,
    string? Text = null,
    XName? ApplicationCondition = null,
    int? Code = null,
    string? ConditionText = null)
{
    public static StanzaError ServiceUnavailable() => new(StanzaErrorType.Cancel, "service-unavailable");
    public static StanzaError BadRequest(string? text = null) => new(StanzaErrorType.Modify, "bad-request", text);
    public static StanzaError ItemNotFound(string? text = null) => new(StanzaErrorType.Cancel, "item-not-found", text);
    public static StanzaError Forbidden(string? text = null) => new(StanzaErrorType.Auth, "forbidden", text);
    public static StanzaError InternalServerError(string? text = null) => new(StanzaErrorType.Wait, "internal-server-error", text);

    /// <summary>The application condition's local name, if any (e.g. <c>bad-payload</c>).</summary>
    public string? ApplicationConditionName => ApplicationCondition?.LocalName;

    /// <summary>Reads the <c>&lt;error/&gt;</c> child of an error stanza.</summary>
    public static StanzaError FromStanza(XElement stanza)
    {
        var error = stanza.Elements().FirstOrDefault(e => e.Name.LocalName == "error");
        return error is null ? new StanzaError(StanzaErrorType.Cancel, "undefined-condition", "error stanza without <error/>") : Parse(error);
    }

    public static StanzaError Parse(XElement error)
    {
        var type = (string?)error.Attribute("type") switch
        {
            "auth" => StanzaErrorType.Auth,
            "continue" => StanzaErrorType.Continue,
            "modify" => StanzaErrorType.Modify,
            "wait" => StanzaErrorType.Wait,
            _ => StanzaErrorType.Cancel,
        };
        XElement? condition = null;
        string? text = null;
        XName? application = null;
        foreach (var child in error.Elements())
        {
            if (child.Name.Namespace == Ns.Stanzas)
            {
                if (child.Name.LocalName == "text") text = child.Value.Trim();
                else condition ??= child;
            }
            else application ??= child.Name;
        }
        int? code = int.TryParse((string?)error.Attribute("code"), out var c) ? c : null;
        var conditionText = condition is not null && !string.IsNullOrWhiteSpace(condition.Value) ? condition.Value.Trim() : null;
        return new StanzaError(type, condition?.Name.LocalName ?? "undefined-condition", text, application, code, conditionText);
    }

    public XElement ToXml(XNamespace? stanzaNamespace = null)
    {
        var ns = stanzaNamespace ?? XNamespace.None;
        var element = new XElement(ns + "error", new XAttribute("type", Type.ToString().ToLowerInvariant()));
        if (Code is { } code) element.Add(new XAttribute("code", code));
        element.Add(new XElement(Ns.Stanzas + Condition, ConditionText));
        if (Text is not null) element.Add(new XElement(Ns.Stanzas + "text", Text));
        if (ApplicationCondition is not null) element.Add(new XElement(ApplicationCondition));
        return element;
    }

    public override string ToString() =>
        $"{Type.ToString().ToLowerInvariant()}/{Condition}" + (ApplicationCondition is null ? "" : $"+{ApplicationCondition.LocalName}") + (Text is null ? "" : $": {Text}");
}
