using System.Collections.Immutable;
using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>An XEP-0004 data form, <c>&lt;x xmlns="jabber:x:data"/&gt;</c>. Immutable; compared by value.</summary>
/// <remarks>
/// Multi-item results (<c>&lt;reported/&gt;</c>/<c>&lt;item/&gt;</c>) are not modelled and are dropped by <see cref="Parse"/>.
/// Field order is kept, and so are repeated vars: OnSIP's <c>authorize-plain</c> result repeats <c>var="sip"</c> once per
/// address, which is why <see cref="GetValues"/> gathers the values of every field with the var.
/// </remarks>
public sealed record DataForm
{
    /// <summary>The var of the hidden field naming the form's namespace (XEP-0068).</summary>
    public const string FormTypeVar = "FORM_TYPE";

    private readonly ImmutableArray<string> _instructions = [];
    private readonly ImmutableArray<FormField> _fields = [];

    public DataForm(DataFormType type, IEnumerable<FormField>? fields = null)
    {
        Type = type;
        if (fields is not null) Fields = [.. fields];
    }

    public DataFormType Type { get; init; }
    public string? Title { get; init; }

    public ImmutableArray<string> Instructions
    {
        get => _instructions;
        init => _instructions = value.IsDefault ? [] : value;
    }

    public ImmutableArray<FormField> Fields
    {
        get => _fields;
        init => _fields = value.IsDefault ? [] : value;
    }

    /// <summary>The value of the <c>FORM_TYPE</c> field (hidden, or untyped as some submitters send it), if any.</summary>
    public string? FormType =>
        _fields.FirstOrDefault(f => f.Var == FormTypeVar && f.Type is FormFieldType.Hidden or FormFieldType.Unspecified)?.Value;

    /// <summary>The first value of the first field named <paramref name="var"/>, or <see langword="null"/>.</summary>
    public string? this[string var] => GetValue(var);

    /// <summary>The first field named <paramref name="var"/>, or <see langword="null"/>.</summary>
    public FormField? GetField(string var)
    {
        ArgumentNullException.ThrowIfNull(var);
        foreach (var field in _fields)
            if (field.Var == var) return field;
        return null;
    }

    /// <summary>The first value of the first field named <paramref name="var"/>, or <see langword="null"/>.</summary>
    public string? GetValue(string var) => GetField(var)?.Value;

    /// <summary>Every value of every field named <paramref name="var"/>, in document order (empty when there is none).</summary>
    public ImmutableArray<string> GetValues(string var)
    {
        ArgumentNullException.ThrowIfNull(var);
        return [.. _fields.Where(f => f.Var == var).SelectMany(f => f.Values)];
    }

    /// <summary>Reads a <c>{jabber:x:data}x</c> element.</summary>
    /// <exception cref="XmppProtocolException">not a data form, or its form/field type is missing or unknown.</exception>
    public static DataForm Parse(XElement x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Name != Ns.DataForms + "x")
            throw new XmppProtocolException($"Expected <x xmlns='jabber:x:data'/>, got <{x.Name.LocalName}/> in '{x.Name.NamespaceName}'.");
        return new DataForm(FormFieldTypeExtensions.ParseFormType((string?)x.Attribute("type")))
        {
            Title = (string?)x.Element(Ns.DataForms + "title"),
            Instructions = [.. x.Elements(Ns.DataForms + "instructions").Select(i => i.Value)],
            Fields = [.. x.Elements(Ns.DataForms + "field").Select(FormField.Parse)],
        };
    }

    /// <summary>The first data form among <paramref name="parent"/>'s children, or <see langword="null"/>.</summary>
    public static DataForm? FromParent(XElement parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        return parent.Element(Ns.DataForms + "x") is { } x ? Parse(x) : null;
    }

    /// <summary>Writes <c>&lt;x xmlns="jabber:x:data" type=…&gt;</c> with title, instructions, then the fields in order.</summary>
    public XElement ToXml()
    {
        var x = new XElement(Ns.DataForms + "x", new XAttribute("type", Type.ToWireName()));
        if (Title is not null) x.Add(new XElement(Ns.DataForms + "title", Title));
        foreach (var line in _instructions) x.Add(new XElement(Ns.DataForms + "instructions", line));
        foreach (var field in _fields) x.Add(field.ToXml());
        return x;
    }

    /// <summary>Starts an immutable builder for a <c>type="submit"</c> form.</summary>
    public static DataFormBuilder Submit() => new(DataFormType.Submit);

    /// <summary>Starts an immutable builder for a form of any type (e.g. a result our own component returns).</summary>
    public static DataFormBuilder Create(DataFormType type) => new(type);

    /// <summary>The <c>&lt;x type="cancel"/&gt;</c> form a requester sends to decline filling a form.</summary>
    public static DataForm Cancel() => new(DataFormType.Cancel);

    /// <summary>Starts filling this <c>type="form"</c> form in.</summary>
    public FillableForm ToFillable() => new(this);

    public bool Equals(DataForm? other) =>
        other is not null &&
        Type == other.Type &&
        Title == other.Title &&
        _instructions.SequenceEqual(other._instructions) &&
        _fields.SequenceEqual(other._fields);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Type);
        hash.Add(Title);
        foreach (var line in _instructions) hash.Add(line);
        foreach (var field in _fields) hash.Add(field);
        return hash.ToHashCode();
    }

    /// <summary>The serialized form, without indentation.</summary>
    public override string ToString() => ToXml().ToString(SaveOptions.DisableFormatting);
}
