using System.Collections.Immutable;
using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>One <c>&lt;field/&gt;</c> of a data form (XEP-0004 §3.2). Immutable; compared by value.</summary>
public sealed record FormField
{
    private readonly ImmutableArray<string> _values = [];
    private readonly ImmutableArray<FormOption> _options = [];

    public FormField(string? var, FormFieldType type = FormFieldType.Unspecified, IEnumerable<string>? values = null)
    {
        Var = var;
        Type = type;
        if (values is not null) Values = [.. values];
    }

    /// <summary>The field name. Only a <c>fixed</c> field may lack one.</summary>
    public string? Var { get; init; }
    public FormFieldType Type { get; init; }
    public string? Label { get; init; }
    /// <summary>The <c>&lt;desc/&gt;</c> text.</summary>
    public string? Description { get; init; }
    public bool Required { get; init; }

    public ImmutableArray<string> Values
    {
        get => _values;
        init => _values = value.IsDefault ? [] : value;
    }

    public ImmutableArray<FormOption> Options
    {
        get => _options;
        init => _options = value.IsDefault ? [] : value;
    }

    /// <summary>The first value, or <see langword="null"/> when the field has none.</summary>
    public string? Value => _values.IsEmpty ? null : _values[0];

    /// <summary>Reads a <c>{jabber:x:data}field</c> element. Child order does not matter (OnSIP puts <c>&lt;required/&gt;</c> after options).</summary>
    /// <exception cref="XmppProtocolException">the element is not a field or its type is unknown.</exception>
    public static FormField Parse(XElement field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (field.Name != Ns.DataForms + "field")
            throw new XmppProtocolException($"Expected a data form <field/>, got <{field.Name.LocalName}/> in '{field.Name.NamespaceName}'.");
        var options = ImmutableArray.CreateBuilder<FormOption>();
        foreach (var option in field.Elements(Ns.DataForms + "option"))
        {
            var value = option.Element(Ns.DataForms + "value");
            if (value is null) continue; // an option without a value offers nothing to choose
            options.Add(new FormOption(value.Value, (string?)option.Attribute("label")));
        }
        return new FormField((string?)field.Attribute("var"), FormFieldTypeExtensions.ParseFieldType((string?)field.Attribute("type")))
        {
            Label = (string?)field.Attribute("label"),
            Description = (string?)field.Element(Ns.DataForms + "desc"),
            Required = field.Element(Ns.DataForms + "required") is not null,
            Values = [.. field.Elements(Ns.DataForms + "value").Select(v => v.Value)],
            Options = options.ToImmutable(),
        };
    }

    /// <summary>Writes the field: attributes type (omitted when unspecified), label, var; children desc, required, values, options.</summary>
    public XElement ToXml()
    {
        var element = new XElement(Ns.DataForms + "field");
        if (Type.ToWireName() is { } type) element.Add(new XAttribute("type", type));
        if (Label is not null) element.Add(new XAttribute("label", Label));
        if (Var is not null) element.Add(new XAttribute("var", Var));
        if (Description is not null) element.Add(new XElement(Ns.DataForms + "desc", Description));
        if (Required) element.Add(new XElement(Ns.DataForms + "required"));
        foreach (var value in _values) element.Add(new XElement(Ns.DataForms + "value", value));
        foreach (var option in _options) element.Add(option.ToXml());
        return element;
    }

    public bool Equals(FormField? other) =>
        other is not null &&
        Var == other.Var &&
        Type == other.Type &&
        Label == other.Label &&
        Description == other.Description &&
        Required == other.Required &&
        _values.SequenceEqual(other._values) &&
        _options.SequenceEqual(other._options);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Var);
        hash.Add(Type);
        hash.Add(Label);
        hash.Add(Description);
        hash.Add(Required);
        foreach (var value in _values) hash.Add(value);
        foreach (var option in _options) hash.Add(option);
        return hash.ToHashCode();
    }

    public override string ToString() => ToXml().ToString(SaveOptions.DisableFormatting);
}
