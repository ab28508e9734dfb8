using System.Text;
using System.Xml;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Commands;

/// <summary>The successful <c>&lt;command/&gt;</c> replies, shaped as in the seed.</summary>
public static class CommandResponses
{
    /// <summary>First stage of a multi-stage session: status executing, <c>&lt;actions execute="execute"&gt;&lt;cancel/&gt;&lt;execute/&gt;</c>, the node's form.</summary>
    public static IqResponse Executing(string node, string sessionId, DataForm form) =>
        IqResponse.Result(Command("executing", node, sessionId,
            new XElement(Ns.Commands + "actions", new XAttribute("execute", "execute"),
                new XElement(Ns.Commands + "cancel"),
                new XElement(Ns.Commands + "execute")),
            CommandForms.ToXml(form)));

    /// <summary>A completed command, with the result form if any (only <c>create</c> has one).</summary>
    public static IqResponse Completed(string node, string sessionId, DataForm? result = null) =>
        IqResponse.Result(Command("completed", node, sessionId, result is null ? null : CommandForms.ToXml(result)));

    public static IqResponse Canceled(string node, string sessionId) =>
        IqResponse.Result(Command("canceled", node, sessionId));

    private static XElement Command(string status, string node, string sessionId, params object?[] content) =>
        new(Ns.Commands + "command",
            new XAttribute("status", status),
            new XAttribute("node", node),
            new XAttribute("sessionid", sessionId),
            content);
}

/// <summary>
/// The error replies. Validation and execution failures follow the seed: <c>400</c>, <c>bad-request</c>, a
/// "Validation Errors; …" or "Execution Errors; …" text, <c>bad-payload</c>, and the submitted command echoed before
/// the error (node, session id, the submitted form as received). For <c>terminate</c>, <c>transfer</c> and
/// <c>cancel</c> an execution failure's echo also says <c>status="completed"</c> and carries
/// <c>&lt;note type="error"&gt;</c> with the same text, as the seed's terminate and transfer examples do; a failed
/// <c>create</c> echoes no status and no note, as the seed's create example does. Protocol errors (unknown session,
/// bad action, unknown node) carry no echo, as in XEP-0050's examples.
/// </summary>
public static class CommandErrors
{
    public const string ValidationPrefix = "Validation Errors; ";
    public const string ExecutionPrefix = "Execution Errors; ";

    public static IqResponse Validation(string node, string sessionId, XElement? submittedForm, IEnumerable<string> errors) =>
        IqResponse.Failure(BadPayload(ValidationPrefix + string.Join("; ", errors)), Echo(node, sessionId, submittedForm, completed: false, note: null));

    /// <param name="message">The engine's message. It may quote the network (a SIP reason phrase), so characters XML
    /// cannot carry are replaced with U+FFFD rather than let them make the whole reply unsendable.</param>
    public static IqResponse Execution(string node, string sessionId, XElement? submittedForm, string message)
    {
        var text = ExecutionPrefix + XmlSafe(message);
        var withNote = node != CommandNodes.Create;
        return IqResponse.Failure(BadPayload(text), Echo(node, sessionId, submittedForm, completed: withNote, note: withNote ? text : null));
    }

    /// <summary>Unknown, expired or someone else's session (XEP-0050 §4.6).</summary>
    public static IqResponse BadSessionId() => IqResponse.Failure(Modify("bad-sessionid"));

    /// <summary>An action this single-stage form does not offer (<c>next</c>, <c>prev</c>).</summary>
    public static IqResponse BadAction(string action) => IqResponse.Failure(Modify("bad-action", $"Action '{action}' is not offered by this command."));

    /// <summary>An action XEP-0050 does not define.</summary>
    public static IqResponse MalformedAction() => IqResponse.Failure(Modify("malformed-action"));

    public static IqResponse UnknownNode() => IqResponse.Failure(StanzaError.ItemNotFound());

    public static IqResponse NotASet() => IqResponse.Failure(StanzaError.BadRequest("Ad-hoc commands are executed with an IQ of type 'set'."));

    public static IqResponse TooManySessions() =>
        IqResponse.Failure(new StanzaError(StanzaErrorType.Wait, "resource-constraint", "Too many open command sessions; try again later."));

    /// <summary>Anything unexpected: no detail leaves the service (it is logged).</summary>
    public static IqResponse Internal() => IqResponse.Failure(StanzaError.InternalServerError());

    /// <summary><paramref name="text"/> with every character XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/F)
    /// replaced by U+FFFD.</summary>
    internal static string XmlSafe(string text)
    {
        StringBuilder? safe = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (XmlConvert.IsXmlChar(c))
            {
                safe?.Append(c);
                continue;
            }
            if (i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], c))
            {
                safe?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            safe ??= new StringBuilder(text.Length).Append(text, 0, i);
            safe.Append('\uFFFD');
        }
        return safe?.ToString() ?? text;
    }

    private static StanzaError BadPayload(string text) => Modify("bad-payload", text);

    private static StanzaError Modify(string commandCondition, string? text = null) =>
        new(StanzaErrorType.Modify, "bad-request", text, Ns.Commands + commandCondition, Code: 400);

    private static XElement Echo(string node, string sessionId, XElement? submittedForm, bool completed, string? note) =>
        new(Ns.Commands + "command",
            completed ? new XAttribute("status", "completed") : null,
            new XAttribute("node", node),
            new XAttribute("sessionid", sessionId),
            submittedForm is null ? null : new XElement(submittedForm),
            note is null ? null : new XElement(Ns.Commands + "note", new XAttribute("type", "error"), note));
}
