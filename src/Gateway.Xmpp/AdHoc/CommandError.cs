using System.Collections.Immutable;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.AdHoc;

/// <summary>XEP-0050's application-specific error conditions (§4.6).</summary>
public enum CommandErrorCondition { BadAction, BadLocale, BadPayload, BadSessionId, MalformedAction, SessionExpired }

/// <summary>
/// Reading XEP-0050 errors. OnSIP answers failures with <c>400/bad-request</c> plus <c>bad-payload</c> (validation) or
/// <c>bad-action</c> (execution), and echoes the submitted <c>&lt;command/&gt;</c>, sometimes with an error note, in
/// the error stanza.
/// </summary>
public static class CommandError
{
    /// <summary>The XEP-0050 condition of <paramref name="error"/>, or <see langword="null"/> if it carries none.</summary>
    public static CommandErrorCondition? GetCondition(StanzaError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.ApplicationCondition is not { } name || name.Namespace != Ns.Commands) return null;
        return name.LocalName switch
        {
            "bad-action" => CommandErrorCondition.BadAction,
            "bad-locale" => CommandErrorCondition.BadLocale,
            "bad-payload" => CommandErrorCondition.BadPayload,
            "bad-sessionid" => CommandErrorCondition.BadSessionId,
            "malformed-action" => CommandErrorCondition.MalformedAction,
            "session-expired" => CommandErrorCondition.SessionExpired,
            _ => null,
        };
    }

    public static bool Is(StanzaError error, CommandErrorCondition condition) => GetCondition(error) == condition;

    /// <summary>True for <c>bad-sessionid</c> and <c>session-expired</c>: the session is gone.</summary>
    public static bool IsSessionGone(StanzaError error) =>
        GetCondition(error) is CommandErrorCondition.BadSessionId or CommandErrorCondition.SessionExpired;

    /// <summary>The <c>&lt;command/&gt;</c> echoed in an error stanza, or <see langword="null"/>.</summary>
    public static XElement? ExtractEchoedCommand(XElement errorStanza)
    {
        ArgumentNullException.ThrowIfNull(errorStanza);
        return errorStanza.Element(Ns.Commands + "command");
    }

    /// <summary>The data form inside the echoed command (the form we submitted), or <see langword="null"/> if there is
    /// none or it cannot be read: an error report must not fail on a mangled echo.</summary>
    public static DataForm? ExtractEchoedForm(XElement errorStanza)
    {
        if (ExtractEchoedCommand(errorStanza)?.Element(Ns.DataForms + "x") is not { } x) return null;
        try { return DataForm.Parse(x); }
        catch (XmppProtocolException) { return null; }
    }

    /// <summary>The notes of the echoed command (OnSIP adds <c>&lt;note type="error"/&gt;</c> to terminate/transfer errors).</summary>
    public static ImmutableArray<CommandNote> ExtractEchoedNotes(XElement errorStanza) =>
        ExtractEchoedCommand(errorStanza) is { } command ? CommandNote.ParseAll(command) : [];
}

/// <summary>The responder no longer knows the command session (<c>bad-sessionid</c> or <c>session-expired</c>).
/// Start a new session; this one is over.</summary>
public sealed class CommandSessionExpiredException : XmppException
{
    public CommandSessionExpiredException(string node, string? sessionId, XmppStanzaErrorException inner)
        : base($"Ad-hoc command session '{sessionId}' of node '{node}' is gone: {inner?.Error}", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Node = node;
        SessionId = sessionId;
        Error = inner.Error;
        Stanza = inner.Stanza;
    }

    public string Node { get; }
    public string? SessionId { get; }
    public StanzaError Error { get; }
    /// <summary>The whole error stanza.</summary>
    public XElement Stanza { get; }
    public CommandErrorCondition? Condition => CommandError.GetCondition(Error);
}
