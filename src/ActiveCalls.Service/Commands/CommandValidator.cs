using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.DataForms;

namespace ActiveCalls.Service.Commands;

/// <summary>
/// Checks every field of a submitted form before the engine is touched, and reports every problem at once in
/// OnSIP's wording: <c>Field 'from' is in an invalid format with value: foo</c>, <c>Field 'to' is required</c>,
/// in the node form's field order. Unknown extra fields are ignored; of a field given twice, the first counts; a
/// field's first value counts; values are trimmed of surrounding white space.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>from</c>, <c>to</c>, <c>target-uri</c>: <see cref="SipUri"/> (<c>sip:user@domain</c>).</item>
/// <item><c>call-setup-id</c>: optional; when present, exactly 8 ASCII letters or digits, as the seed and our
/// architecture say. OnSIP once echoed a 16-digit id, and one of its clients sends 8 digits; we refuse anything
/// else, because every leg of the call carries the id and clients match on it.</item>
/// <item><c>call-id</c>, <c>from-tag</c>, <c>to-tag</c>: required, at most <see cref="MaxDialogValueLength"/>
/// characters, no white space or control characters (a SIP Call-ID or tag cannot carry them). Anything else is
/// left to the engine, which answers "no such call".</item>
/// <item><c>endpoint</c>: <c>caller</c> or <c>callee</c>, exactly.</item>
/// </list>
/// </remarks>
public static class CommandValidator
{
    public const int MaxDialogValueLength = 256;
    public const int CallSetupIdLength = 8;

    /// <summary>How much of a bad value is quoted in the error text (the whole form is echoed anyway).</summary>
    public const int MaxQuotedValueLength = 128;

    private const string TrimmedWhitespace = " \t\r\n";

    public static CommandValidation Validate(string node, DataForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var reader = new FieldReader(form);
        CommandInput? input = node switch
        {
            CommandNodes.Create => ReadCreate(reader),
            CommandNodes.Terminate => ReadTerminate(reader),
            CommandNodes.Transfer => ReadTransfer(reader),
            CommandNodes.Cancel => ReadCancel(reader),
            _ => throw new ArgumentOutOfRangeException(nameof(node), node, "Not a command node of this component."),
        };
        return reader.Errors.Count == 0 && input is not null
            ? new CommandValidation(input, [])
            : new CommandValidation(null, reader.Errors);
    }

    public static bool IsCallSetupId(string value) =>
        value.Length == CallSetupIdLength && value.All(char.IsAsciiLetterOrDigit);

    /// <summary>Non-empty, bounded, and free of white space and control characters.</summary>
    public static bool IsDialogValue(string value) =>
        value.Length is > 0 and <= MaxDialogValueLength && !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    private static CreateCallInput? ReadCreate(FieldReader r)
    {
        var from = r.Required("from", SipUri.IsValid);
        var to = r.Required("to", SipUri.IsValid);
        var callSetupId = r.Optional("call-setup-id", IsCallSetupId);
        return from is null || to is null ? null : new CreateCallInput(from, to, callSetupId);
    }

    private static TerminateCallInput? ReadTerminate(FieldReader r) =>
        ReadDialog(r) is { } dialog ? new TerminateCallInput(dialog) : null;

    private static TransferCallInput? ReadTransfer(FieldReader r)
    {
        var dialog = ReadDialog(r);
        var endpoint = r.Required("endpoint", v => v is "caller" or "callee");
        var target = r.Required("target-uri", SipUri.IsValid);
        if (dialog is null || endpoint is null || target is null) return null;
        return new TransferCallInput(dialog, endpoint == "caller" ? TransferEndpoint.Caller : TransferEndpoint.Callee, target);
    }

    private static CancelCallInput? ReadCancel(FieldReader r)
    {
        var callId = r.Required("call-id", IsDialogValue);
        var fromTag = r.Required("from-tag", IsDialogValue);
        return callId is null || fromTag is null ? null : new CancelCallInput(callId, fromTag);
    }

    private static DialogId? ReadDialog(FieldReader r)
    {
        var callId = r.Required("call-id", IsDialogValue);
        var fromTag = r.Required("from-tag", IsDialogValue);
        var toTag = r.Required("to-tag", IsDialogValue);
        return callId is null || fromTag is null || toTag is null ? null : new DialogId(callId, fromTag, toTag);
    }

    /// <summary>Shortens a quoted value, never splitting a surrogate pair (the text must stay XML-legal).</summary>
    internal static string Quote(string value)
    {
        if (value.Length <= MaxQuotedValueLength) return value;
        var cut = MaxQuotedValueLength;
        if (char.IsHighSurrogate(value[cut - 1])) cut--;
        return value[..cut] + "…";
    }

    private sealed class FieldReader(DataForm form)
    {
        public List<string> Errors { get; } = [];

        public string? Required(string var, Func<string, bool> isValid) => Read(var, isValid, required: true);

        public string? Optional(string var, Func<string, bool> isValid) => Read(var, isValid, required: false);

        private string? Read(string var, Func<string, bool> isValid, bool required)
        {
            var value = form.GetValue(var)?.AsSpan().Trim(TrimmedWhitespace).ToString();
            if (string.IsNullOrEmpty(value))
            {
                if (required) Errors.Add($"Field '{var}' is required");
                return null;
            }
            if (!isValid(value))
            {
                Errors.Add($"Field '{var}' is in an invalid format with value: {Quote(value)}");
                return null;
            }
            return value;
        }
    }
}
