using System.Diagnostics;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tracing;

namespace Gateway.Xmpp.AdHoc;

/// <summary>A disco#items entry of a responder's command list.</summary>
public sealed record CommandNode(Jid Jid, string Node, string? Name);

/// <summary>
/// The requester side of XEP-0050, over <see cref="IIqSender"/> only. Stanza errors surface as
/// <see cref="XmppStanzaErrorException"/> (read them with <see cref="CommandError"/>); timeouts and lost streams as
/// the sender reports them.
/// </summary>
public sealed class AdHocCommandClient
{
    private readonly IIqSender _sender;

    public AdHocCommandClient(IIqSender sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        _sender = sender;
    }

    /// <summary>
    /// Single-stage execution, shaped like OnSIP's own clients: <c>&lt;command node=…&gt;</c> carrying the submit form,
    /// with no <c>action</c> and no <c>sessionid</c>. When a listener records <see cref="XmppTracing.SourceName"/>, it runs
    /// in a client span whose W3C context the command carries (<see cref="TraceContextElement"/>).
    /// </summary>
    /// <returns>The responder's command. Usually <see cref="CommandStatus.Completed"/>; a responder that insists on
    /// multi-stage answers <see cref="CommandStatus.Executing"/> with a form, and that session is left to expire.</returns>
    /// <exception cref="XmppStanzaErrorException">the command failed (IQ type error); OnSIP echoes the command in it.</exception>
    /// <exception cref="XmppProtocolException">the result carries no readable <c>&lt;command/&gt;</c>.</exception>
    public async Task<CommandResult> ExecuteAsync(
        Jid to, string node, DataForm? submitForm = null, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentException.ThrowIfNullOrEmpty(node);
        if (submitForm is not null && submitForm.Type != DataFormType.Submit)
            throw new ArgumentException($"A single-stage command carries a type=\"submit\" form, not \"{submitForm.Type.ToWireName()}\".", nameof(submitForm));
        // Checked first so that nothing (not even the span's name) is allocated when nobody listens.
        using var span = XmppTracing.Source.HasListeners() ? XmppTracing.Source.StartActivity("xmpp.command " + node, ActivityKind.Client) : null;
        var command = BuildCommand(node, null, null, submitForm);
        if (span is not null)
        {
            span.SetTag("rpc.system", "xmpp");
            span.SetTag("xmpp.to", to.ToString());
            span.SetTag("xmpp.command.node", node);
            span.SetTag("xmpp.command.action", "execute");
            // Inside the <command/>: an IQ set carries exactly one payload child.
            command.Add(TraceContextElement.Format(span.Context));
        }
        try
        {
            var result = ParseReply(await _sender.SendIqAsync(to, IqType.Set, command, timeout, ct), node);
            span?.SetTag("xmpp.command.status", result.Status.ToString().ToLowerInvariant());
            return result;
        }
        catch (Exception e) when (span is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, e.Message);
            span.SetTag("error.type", e switch
            {
                XmppStanzaErrorException stanza => stanza.Error.Condition,
                XmppIqTimeoutException => "timeout",
                _ => e.GetType().FullName,
            });
            throw;
        }
    }

    /// <summary>
    /// Starts a multi-stage session with a bare <c>&lt;command node=…/&gt;</c> and returns it holding the first response
    /// (normally a form to fill in, status executing). Dispose the session to cancel it if it is still executing.
    /// </summary>
    /// <param name="timeout">Used for this request and every later request of the session.</param>
    public async Task<CommandSession> StartAsync(Jid to, string node, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentException.ThrowIfNullOrEmpty(node);
        var reply = await _sender.SendIqAsync(to, IqType.Set, BuildCommand(node, null, null, null), timeout, ct);
        var first = ParseReply(reply, node);
        if (first.Status == CommandStatus.Executing && string.IsNullOrEmpty(first.SessionId))
            throw new XmppProtocolException($"Ad-hoc command '{node}' is executing but the responder gave no sessionid.");
        return new CommandSession(_sender, to, node, first, timeout);
    }

    /// <summary>The commands <paramref name="to"/> offers: disco#items on node <c>http://jabber.org/protocol/commands</c>.
    /// Items without a node or with an unreadable JID are skipped; an item without a JID belongs to <paramref name="to"/>.</summary>
    public async Task<IReadOnlyList<CommandNode>> ListCommandsAsync(Jid to, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(to);
        var query = new XElement(Ns.DiscoItems + "query", new XAttribute("node", Ns.Commands.NamespaceName));
        var reply = await _sender.SendIqAsync(to, IqType.Get, query, cancellationToken: ct);
        var result = reply.Element(Ns.DiscoItems + "query")
            ?? throw new XmppProtocolException("disco#items result without a <query/>.");
        var nodes = new List<CommandNode>();
        foreach (var item in result.Elements(Ns.DiscoItems + "item"))
        {
            var node = (string?)item.Attribute("node");
            if (string.IsNullOrEmpty(node)) continue;
            var jidText = (string?)item.Attribute("jid");
            Jid? jid = to;
            if (jidText is not null && !Jid.TryParse(jidText, out jid)) continue;
            nodes.Add(new CommandNode(jid!, node, (string?)item.Attribute("name")));
        }
        return nodes;
    }

    internal static XElement BuildCommand(string node, string? sessionId, CommandAction? action, DataForm? form)
    {
        var command = new XElement(Ns.Commands + "command", new XAttribute("node", node));
        if (sessionId is not null) command.Add(new XAttribute("sessionid", sessionId));
        if (action is { } a) command.Add(new XAttribute("action", a.ToWireName()));
        if (form is not null) command.Add(form.ToXml());
        return command;
    }

    internal static CommandResult ParseReply(XElement reply, string node)
    {
        var command = reply.Element(Ns.Commands + "command")
            ?? throw new XmppProtocolException($"Result of ad-hoc command '{node}' carries no <command/>.");
        return CommandResult.Parse(command);
    }
}
