using System.Collections.Immutable;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.AdHoc;

/// <summary>The <c>status</c> of a command response (XEP-0050 §6).</summary>
public enum CommandStatus { Executing, Completed, Canceled }

/// <summary>An XEP-0050 action: what a requester asks for, and what <c>&lt;actions/&gt;</c> allows.</summary>
public enum CommandAction { Execute, Cancel, Prev, Next, Complete }

/// <summary>The <c>type</c> of a <c>&lt;note/&gt;</c>.</summary>
public enum CommandNoteType { Info, Warn, Error }

/// <summary>A <c>&lt;note type=…&gt;text&lt;/note&gt;</c> of a command response.</summary>
public sealed record CommandNote(CommandNoteType Type, string Text)
{
    /// <summary>Reads a note; a missing or unknown type reads as <see cref="CommandNoteType.Info"/>, XEP-0050's default.</summary>
    public static CommandNote Parse(XElement note)
    {
        ArgumentNullException.ThrowIfNull(note);
        var type = (string?)note.Attribute("type") switch
        {
            "warn" => CommandNoteType.Warn,
            "error" => CommandNoteType.Error,
            _ => CommandNoteType.Info,
        };
        return new CommandNote(type, note.Value);
    }

    public XElement ToXml() =>
        new(Ns.Commands + "note", new XAttribute("type", Type.ToString().ToLowerInvariant()), Text);

    internal static ImmutableArray<CommandNote> ParseAll(XElement command) =>
        [.. command.Elements(Ns.Commands + "note").Select(Parse)];
}

/// <summary>The <c>&lt;actions execute=…&gt;</c> element: the actions the responder lists and its default one.</summary>
/// <param name="Allowed">The listed child actions, in document order. OnSIP lists <c>&lt;cancel/&gt;&lt;execute/&gt;</c>.</param>
/// <param name="Default">The <c>execute</c> attribute, the action a plain "execute" stands for; null when absent.</param>
public sealed record CommandActions(ImmutableArray<CommandAction> Allowed, CommandAction? Default)
{
    public static CommandActions Parse(XElement actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var allowed = ImmutableArray.CreateBuilder<CommandAction>();
        foreach (var child in actions.Elements())
            if (child.Name.Namespace == Ns.Commands && CommandActionNames.TryParse(child.Name.LocalName, out var action) && !allowed.Contains(action))
                allowed.Add(action);
        CommandAction? @default = CommandActionNames.TryParse((string?)actions.Attribute("execute"), out var d) ? d : null;
        return new CommandActions(allowed.ToImmutable(), @default);
    }

    public bool Equals(CommandActions? other) =>
        other is not null && Default == other.Default && Allowed.SequenceEqual(other.Allowed);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Default);
        foreach (var action in Allowed) hash.Add(action);
        return hash.ToHashCode();
    }
}

/// <summary>
/// A responder's <c>&lt;command/&gt;</c>: status, session, actions, form and notes. A <see cref="CommandStatus.Completed"/>
/// status says nothing about success (XEP-0050 §4.4): the IQ type does, and a failed completion carries an error note.
/// </summary>
public sealed record CommandResult
{
    private readonly ImmutableArray<CommandNote> _notes = [];

    public CommandResult(string node, string? sessionId, CommandStatus status)
    {
        Node = node;
        SessionId = sessionId;
        Status = status;
    }

    public string Node { get; init; }
    public string? SessionId { get; init; }
    public CommandStatus Status { get; init; }
    /// <summary>The <c>&lt;actions/&gt;</c> element, when the responder sent one.</summary>
    public CommandActions? Actions { get; init; }
    /// <summary>The first data form of the payload (a type=form to fill in, or a type=result).</summary>
    public DataForm? Form { get; init; }

    public ImmutableArray<CommandNote> Notes
    {
        get => _notes;
        init => _notes = value.IsDefault ? [] : value;
    }

    /// <summary>True when a <c>&lt;note type="error"/&gt;</c> says the completed command failed.</summary>
    public bool HasErrorNote => _notes.Any(n => n.Type == CommandNoteType.Error);

    /// <summary>Reads a responder's <c>{http://jabber.org/protocol/commands}command</c>.</summary>
    /// <exception cref="XmppProtocolException">not a command, or no node, or a missing/unknown status.</exception>
    public static CommandResult Parse(XElement commandElement)
    {
        ArgumentNullException.ThrowIfNull(commandElement);
        if (commandElement.Name != Ns.Commands + "command")
            throw new XmppProtocolException($"Expected an ad-hoc <command/>, got <{commandElement.Name.LocalName}/> in '{commandElement.Name.NamespaceName}'.");
        var node = (string?)commandElement.Attribute("node");
        if (string.IsNullOrEmpty(node)) throw new XmppProtocolException("Ad-hoc command response without a node.");
        var status = (string?)commandElement.Attribute("status") switch
        {
            "executing" => CommandStatus.Executing,
            "completed" => CommandStatus.Completed,
            "canceled" => CommandStatus.Canceled,
            null => throw new XmppProtocolException($"Ad-hoc command response for '{node}' without a status."),
            var other => throw new XmppProtocolException($"Ad-hoc command response for '{node}' with unknown status '{other}'."),
        };
        return new CommandResult(node, (string?)commandElement.Attribute("sessionid"), status)
        {
            Actions = commandElement.Element(Ns.Commands + "actions") is { } actions ? CommandActions.Parse(actions) : null,
            Form = DataForm.FromParent(commandElement),
            Notes = CommandNote.ParseAll(commandElement),
        };
    }

    public bool Equals(CommandResult? other) =>
        other is not null &&
        Node == other.Node &&
        SessionId == other.SessionId &&
        Status == other.Status &&
        Equals(Actions, other.Actions) &&
        Equals(Form, other.Form) &&
        _notes.SequenceEqual(other._notes);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Node);
        hash.Add(SessionId);
        hash.Add(Status);
        hash.Add(Actions);
        hash.Add(Form);
        foreach (var note in _notes) hash.Add(note);
        return hash.ToHashCode();
    }
}

internal static class CommandActionNames
{
    public static string ToWireName(this CommandAction action) => action switch
    {
        CommandAction.Execute => "execute",
        CommandAction.Cancel => "cancel",
        CommandAction.Prev => "prev",
        CommandAction.Next => "next",
        CommandAction.Complete => "complete",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    public static bool TryParse(string? name, out CommandAction action)
    {
        switch (name)
        {
            case "execute": action = CommandAction.Execute; return true;
            case "cancel": action = CommandAction.Cancel; return true;
            case "prev": action = CommandAction.Prev; return true;
            case "next": action = CommandAction.Next; return true;
            case "complete": action = CommandAction.Complete; return true;
            default: action = default; return false;
        }
    }
}
