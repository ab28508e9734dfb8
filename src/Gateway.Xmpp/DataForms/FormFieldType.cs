using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>The <c>type</c> attribute of a data form (XEP-0004 §3.1).</summary>
public enum DataFormType { Form, Submit, Cancel, Result }

/// <summary>The <c>type</c> attribute of a form field (XEP-0004 §3.3).</summary>
/// <remarks><see cref="Unspecified"/> means the attribute is absent, as in the submit forms OnSIP's own clients send.
/// XEP-0004 gives such a field the semantics of <see cref="TextSingle"/>; the attribute is still omitted on output.</remarks>
public enum FormFieldType
{
    Unspecified,
    Boolean,
    Fixed,
    Hidden,
    JidMulti,
    JidSingle,
    ListMulti,
    ListSingle,
    TextMulti,
    TextPrivate,
    TextSingle,
}

/// <summary>Wire names and properties of <see cref="FormFieldType"/> and <see cref="DataFormType"/>.</summary>
public static class FormFieldTypeExtensions
{
    /// <summary>The attribute value, or <see langword="null"/> for <see cref="FormFieldType.Unspecified"/>.</summary>
    public static string? ToWireName(this FormFieldType type) => type switch
    {
        FormFieldType.Unspecified => null,
        FormFieldType.Boolean => "boolean",
        FormFieldType.Fixed => "fixed",
        FormFieldType.Hidden => "hidden",
        FormFieldType.JidMulti => "jid-multi",
        FormFieldType.JidSingle => "jid-single",
        FormFieldType.ListMulti => "list-multi",
        FormFieldType.ListSingle => "list-single",
        FormFieldType.TextMulti => "text-multi",
        FormFieldType.TextPrivate => "text-private",
        FormFieldType.TextSingle => "text-single",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static string ToWireName(this DataFormType type) => type switch
    {
        DataFormType.Form => "form",
        DataFormType.Submit => "submit",
        DataFormType.Cancel => "cancel",
        DataFormType.Result => "result",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>True for the types that may carry more than one <c>&lt;value/&gt;</c>: jid-multi, list-multi, text-multi.</summary>
    public static bool IsMultiValued(this FormFieldType type) =>
        type is FormFieldType.JidMulti or FormFieldType.ListMulti or FormFieldType.TextMulti;

    /// <summary>The type whose rules apply: <see cref="FormFieldType.Unspecified"/> behaves as text-single (XEP-0004 §3.3).</summary>
    public static FormFieldType Effective(this FormFieldType type) =>
        type == FormFieldType.Unspecified ? FormFieldType.TextSingle : type;

    internal static FormFieldType ParseFieldType(string? value) => value switch
    {
        null => FormFieldType.Unspecified,
        "boolean" => FormFieldType.Boolean,
        "fixed" => FormFieldType.Fixed,
        "hidden" => FormFieldType.Hidden,
        "jid-multi" => FormFieldType.JidMulti,
        "jid-single" => FormFieldType.JidSingle,
        "list-multi" => FormFieldType.ListMulti,
        "list-single" => FormFieldType.ListSingle,
        "text-multi" => FormFieldType.TextMulti,
        "text-private" => FormFieldType.TextPrivate,
        "text-single" => FormFieldType.TextSingle,
        _ => throw new XmppProtocolException($"Unknown data form field type '{value}'."),
    };

    internal static DataFormType ParseFormType(string? value) => value switch
    {
        "form" => DataFormType.Form,
        "submit" => DataFormType.Submit,
        "cancel" => DataFormType.Cancel,
        "result" => DataFormType.Result,
        null => throw new XmppProtocolException("Data form without a 'type' attribute."),
        _ => throw new XmppProtocolException($"Unknown data form type '{value}'."),
    };
}
