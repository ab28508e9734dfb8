using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace ActiveCalls.Service.Commands;

/// <summary>
/// The forms of the seed's multi-stage execution, word for word (typos included: "Fill out this from to …"), and the
/// <c>create</c> result form. <c>cancel</c> has no form in the seed (TODO there); ours asks for the two values OnSIP's
/// clients send, <c>call-id</c> and <c>from-tag</c>.
/// </summary>
public static class CommandForms
{
    public static DataForm Create { get; } = new(DataFormType.Form,
    [
        TextSingle("from", "From", required: true),
        TextSingle("to", "To", required: true),
        TextSingle("call-setup-id", "Call Setup ID", required: false),
    ])
    {
        Title = "Create Call",
        Instructions = ["Enter the SIP addresses of the caller and callee"],
    };

    public static DataForm Terminate { get; } = new(DataFormType.Form,
    [
        TextSingle("call-id", "Call-ID", required: true),
        TextSingle("from-tag", "From Tag", required: true),
        TextSingle("to-tag", "To Tag", required: true),
    ])
    {
        Title = "Terminating a Call",
        Instructions = ["Fill out this from to terminate a call."],
    };

    public static DataForm Transfer { get; } = new(DataFormType.Form,
    [
        TextSingle("call-id", "Call-ID", required: true),
        TextSingle("from-tag", "From Tag", required: true),
        TextSingle("to-tag", "To Tag", required: true),
        new FormField("endpoint", FormFieldType.ListSingle)
        {
            Label = "Endpoint",
            Required = true,
            Options = [new FormOption("callee", "Callee"), new FormOption("caller", "Caller")],
        },
        TextSingle("target-uri", "Target SIP URI", required: true),
    ])
    {
        Title = "Transfer a Call",
        Instructions = ["Fill out this from to transfer a live call."],
    };

    public static DataForm Cancel { get; } = new(DataFormType.Form,
    [
        TextSingle("call-id", "Call-ID", required: true),
        TextSingle("from-tag", "From Tag", required: true),
    ])
    {
        Title = "Cancel a Call",
        Instructions = ["Fill out this form to cancel a call that has not been answered."],
    };

    /// <summary>The form a multi-stage session of <paramref name="node"/> sends first.</summary>
    public static DataForm For(string node) => node switch
    {
        CommandNodes.Create => Create,
        CommandNodes.Terminate => Terminate,
        CommandNodes.Transfer => Transfer,
        CommandNodes.Cancel => Cancel,
        _ => throw new ArgumentOutOfRangeException(nameof(node), node, "Not a command node of this component."),
    };

    /// <summary>The result of a successful <c>create</c>: <c>&lt;x type="result"&gt;</c> with the fixed field <c>call-setup-id</c>.</summary>
    public static DataForm CreateResult(string callSetupId) =>
        new(DataFormType.Result, [new FormField("call-setup-id", FormFieldType.Fixed, [callSetupId])]);

    /// <summary>
    /// Writes a form as the seed does. The one difference from <see cref="DataForm.ToXml"/>: the seed puts
    /// <c>&lt;required/&gt;</c> after a list field's options, where XEP-0004's schema puts it first. Every parser we know
    /// reads either order; we keep OnSIP's, since wire compatibility with OnSIP's clients is the point of this service.
    /// </summary>
    public static XElement ToXml(DataForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var x = form.ToXml();
        foreach (var field in x.Elements(Ns.DataForms + "field"))
        {
            if (field.Element(Ns.DataForms + "required") is { } required && field.Element(Ns.DataForms + "option") is not null)
            {
                required.Remove();
                field.Add(required);
            }
        }
        return x;
    }

    private static FormField TextSingle(string var, string label, bool required) =>
        new(var, FormFieldType.TextSingle) { Label = label, Required = required };
}
