using System.Collections.Immutable;

namespace Gateway.Xmpp.DataForms;

/// <summary>
/// An immutable, fluent builder: every method returns a new builder, so a partly built form can be shared as a template.
/// Values are checked against the field type given (see <see cref="FieldValueRules"/>); untyped fields only for XML-legal text.
/// </summary>
/// <example><code>
/// var form = DataForm.Submit()
///     .Add("from", "sip:foo@example.onsip.com", FormFieldType.TextSingle)
///     .Add("to", "sip:bar@example.onsip.com", FormFieldType.TextSingle)
///     .Build();
/// </code></example>
public sealed class DataFormBuilder
{
    private readonly DataFormType _type;
    private readonly string? _title;
    private readonly ImmutableArray<string> _instructions;
    private readonly ImmutableArray<FormField> _fields;

    public DataFormBuilder(DataFormType type) : this(type, null, [], []) { }

    private DataFormBuilder(DataFormType type, string? title, ImmutableArray<string> instructions, ImmutableArray<FormField> fields)
    {
        _type = type;
        _title = title;
        _instructions = instructions;
        _fields = fields;
    }

    public DataFormBuilder WithTitle(string? title) => new(_type, title, _instructions, _fields);

    /// <summary>Appends one <c>&lt;instructions/&gt;</c> line.</summary>
    public DataFormBuilder WithInstructions(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return new(_type, _title, _instructions.Add(line), _fields);
    }

    /// <summary>Sets the hidden <c>FORM_TYPE</c> field, which is kept first.</summary>
    public DataFormBuilder WithFormType(string formType)
    {
        ArgumentException.ThrowIfNullOrEmpty(formType);
        var field = new FormField(DataForm.FormTypeVar, FormFieldType.Hidden, [formType]);
        return new(_type, _title, _instructions, _fields.RemoveAll(f => f.Var == DataForm.FormTypeVar).Insert(0, field));
    }

    /// <summary>Adds a field with one value, or none when <paramref name="value"/> is <see langword="null"/>.</summary>
    public DataFormBuilder Add(string var, string? value, FormFieldType type = FormFieldType.Unspecified) =>
        AddValues(var, value is null ? [] : [value], type);

    /// <summary>Adds a boolean field (<c>true</c>/<c>false</c> on the wire).</summary>
    public DataFormBuilder Add(string var, bool value) => AddValues(var, [value ? "true" : "false"], FormFieldType.Boolean);

    /// <summary>Adds a field with any number of values (a multi-valued type, or untyped).</summary>
    public DataFormBuilder AddValues(string var, IEnumerable<string> values, FormFieldType type = FormFieldType.Unspecified)
    {
        ArgumentException.ThrowIfNullOrEmpty(var);
        ArgumentNullException.ThrowIfNull(values);
        return Add(new FormField(var, type, values));
    }

    /// <summary>Adds a field as given (labels, options, required…). Vars must be unique except in result forms,
    /// where OnSIP itself repeats them.</summary>
    public DataFormBuilder Add(FormField field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (field.Var is null && field.Type != FormFieldType.Fixed)
            throw new ArgumentException("Only a fixed field may lack a var.", nameof(field));
        FieldValueRules.Check(field.Var ?? "(fixed)", field.Type, field.Values, nameof(field));
        if (field.Var is not null && _type != DataFormType.Result && _fields.Any(f => f.Var == field.Var))
            throw new ArgumentException($"The form already has a field '{field.Var}'.", nameof(field));
        return new(_type, _title, _instructions, _fields.Add(field));
    }

    public DataForm Build() => new(_type) { Title = _title, Instructions = _instructions, Fields = _fields };
}
