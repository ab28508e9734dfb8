using System.Collections.Immutable;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>
/// Fills in a <c>type="form"</c> data form: answers are checked against each field's type and options as they are set,
/// and <see cref="ToSubmitForm"/> produces the <c>type="submit"</c> reply. Not thread-safe.
/// </summary>
/// <remarks>
/// Rules (XEP-0004 §3.3): an untyped field is text-single; single-valued types take one value; boolean takes
/// <c>0</c>/<c>1</c>/<c>true</c>/<c>false</c>; jid-* values must parse as JIDs; list-single/list-multi values must be
/// among the options when the field offers any; fixed fields cannot be answered. A field's own values are its default
/// answer, so hidden fields (FORM_TYPE, OnSIP's <c>jid</c>) are returned unchanged unless answered.
/// </remarks>
public sealed class FillableForm
{
    private readonly Dictionary<string, ImmutableArray<string>> _answers = new(StringComparer.Ordinal);

    public FillableForm(DataForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Type != DataFormType.Form)
            throw new ArgumentException($"Only a type=\"form\" data form can be filled in, not type=\"{form.Type.ToWireName()}\".", nameof(form));
        Form = form;
    }

    /// <summary>The form being filled in.</summary>
    public DataForm Form { get; }

    /// <summary>Answers a field with one value. A text-multi field splits the text into one value per line.</summary>
    /// <exception cref="ArgumentException">no such field, a fixed field, or a value the field's type does not allow.</exception>
    public void SetAnswer(string var, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var field = FindAnswerable(var);
        SetChecked(field, field.Type == FormFieldType.TextMulti ? SplitLines(value) : [value]);
    }

    /// <summary>Answers a field with several values (multi-valued types), or with none.</summary>
    public void SetAnswer(string var, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        SetChecked(FindAnswerable(var), [.. values]);
    }

    /// <summary>Answers a boolean field (or an untyped one) with <c>true</c>/<c>false</c>.</summary>
    public void SetAnswer(string var, bool value) => SetAnswer(var, value ? "true" : "false");

    /// <summary>Answers a jid-single/jid-multi (or text) field with a JID.</summary>
    public void SetAnswer(string var, Jid value)
    {
        ArgumentNullException.ThrowIfNull(value);
        SetAnswer(var, value.ToString());
    }

    /// <summary>The values that will be submitted for <paramref name="var"/>: the answer, else the field's defaults.</summary>
    public ImmutableArray<string> GetAnswer(string var)
    {
        var field = Form.GetField(var) ?? throw UnknownField(var);
        return _answers.TryGetValue(var, out var answer) ? answer : field.Values;
    }

    /// <summary>The vars of required fields that have no non-empty value yet, in form order.</summary>
    public IReadOnlyList<string> MissingRequiredFields =>
        [.. Form.Fields
            .Where(f => f.Required && f.Var is not null && f.Type != FormFieldType.Fixed)
            .Where(f => GetAnswer(f.Var!).All(string.IsNullOrEmpty))
            .Select(f => f.Var!)
            .Distinct(StringComparer.Ordinal)];

    public bool IsComplete => MissingRequiredFields.Count == 0;

    /// <summary>
    /// The <c>type="submit"</c> form: every non-fixed field, in form order, with its type and answer (or default values);
    /// fields with neither are left out. Labels, descriptions and options are not echoed.
    /// </summary>
    /// <exception cref="MissingRequiredFieldsException">a required field is unanswered.</exception>
    public DataForm ToSubmitForm()
    {
        var missing = MissingRequiredFields;
        if (missing.Count > 0) throw new MissingRequiredFieldsException(missing);
        var fields = ImmutableArray.CreateBuilder<FormField>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in Form.Fields)
        {
            if (field.Var is null || field.Type == FormFieldType.Fixed || !seen.Add(field.Var)) continue;
            var values = GetAnswer(field.Var);
            if (values.IsEmpty) continue;
            fields.Add(new FormField(field.Var, field.Type) { Values = values });
        }
        return new DataForm(DataFormType.Submit) { Fields = fields.ToImmutable() };
    }

    private FormField FindAnswerable(string var)
    {
        ArgumentNullException.ThrowIfNull(var);
        var field = Form.GetField(var) ?? throw UnknownField(var);
        if (field.Type == FormFieldType.Fixed)
            throw new ArgumentException($"Field '{var}' is fixed and cannot be answered.", nameof(var));
        return field;
    }

    private void SetChecked(FormField field, ImmutableArray<string> values)
    {
        var var = field.Var!;
        FieldValueRules.Check(var, field.Type.Effective(), values, nameof(values));
        if (field.Type is FormFieldType.ListSingle or FormFieldType.ListMulti && !field.Options.IsEmpty)
        {
            foreach (var value in values)
                if (!field.Options.Any(o => o.Value == value))
                    throw new ArgumentException(
                        $"Field '{var}' accepts only [{string.Join(", ", field.Options.Select(o => o.Value))}], not '{value}'.", nameof(values));
        }
        _answers[var] = values;
    }

    private static ImmutableArray<string> SplitLines(string text) =>
        [.. text.ReplaceLineEndings("\n").Split('\n')];

    private static ArgumentException UnknownField(string var) =>
        new($"The form has no field '{var}'.", nameof(var));
}

/// <summary>A form was submitted with required fields unanswered.</summary>
public sealed class MissingRequiredFieldsException : InvalidOperationException
{
    public MissingRequiredFieldsException(IReadOnlyList<string> missingFields)
        : base($"Required field(s) not answered: {string.Join(", ", missingFields)}.")
    {
        MissingFields = missingFields;
    }

    public IReadOnlyList<string> MissingFields { get; }
}
