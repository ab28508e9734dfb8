using System.Collections.Immutable;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.AdHoc;

/// <summary>
/// A multi-stage XEP-0050 session, created by <see cref="AdHocCommandClient.StartAsync"/>. Requests are serialized.
/// Disposing a session that is still executing cancels it out of courtesy; errors from that cancel are swallowed.
/// </summary>
public sealed class CommandSession : IAsyncDisposable
{
    private static readonly ImmutableArray<CommandAction> ExecuteOrCancel = [CommandAction.Execute, CommandAction.Cancel];

    private readonly IIqSender _sender;
    private readonly TimeSpan? _timeout;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _gone;
    private bool _disposed;

    internal CommandSession(IIqSender sender, Jid to, string node, CommandResult first, TimeSpan? timeout)
    {
        _sender = sender;
        _timeout = timeout;
        To = to;
        Node = node;
        SessionId = first.SessionId;
        LastResult = first;
    }

    public Jid To { get; }
    public string Node { get; }
    /// <summary>The responder's session id; follows the latest response that carries one.</summary>
    public string? SessionId { get; private set; }
    /// <summary>The latest response.</summary>
    public CommandResult LastResult { get; private set; }
    public CommandStatus Status => LastResult.Status;
    /// <summary>True when no further request can be made: completed, canceled or expired.</summary>
    public bool IsEnded => _gone || Status != CommandStatus.Executing;
    /// <summary>The current stage's form, if the latest response carried one.</summary>
    public DataForm? Form => LastResult.Form;
    public ImmutableArray<CommandNote> Notes => LastResult.Notes;
    /// <summary>The <c>execute</c> attribute of the latest <c>&lt;actions/&gt;</c>, if any.</summary>
    public CommandAction? DefaultAction => LastResult.Actions?.Default;

    /// <summary>
    /// What may be sent next. Nothing once ended. Otherwise execute and cancel are always allowed (XEP-0050 §4.3), plus
    /// whatever the latest <c>&lt;actions/&gt;</c> lists; without one, just {execute, cancel}.
    /// </summary>
    public ImmutableArray<CommandAction> AllowedActions
    {
        get
        {
            if (IsEnded) return [];
            if (LastResult.Actions is not { } actions) return ExecuteOrCancel;
            return [.. ExecuteOrCancel.Concat(actions.Allowed).Distinct().Order()];
        }
    }

    public bool IsAllowed(CommandAction action) => AllowedActions.Contains(action);

    /// <summary>Sends <c>&lt;command node sessionid action&gt;</c> with <paramref name="submit"/> and takes the response as the new state.</summary>
    /// <exception cref="InvalidOperationException">the session has ended or <paramref name="action"/> is not allowed; nothing was sent.</exception>
    /// <exception cref="CommandSessionExpiredException">the responder answered bad-sessionid or session-expired; the session is ended.</exception>
    /// <exception cref="XmppStanzaErrorException">any other error; the session state is unchanged.</exception>
    public async Task<CommandResult> ProceedAsync(CommandAction action, DataForm? submit = null, CancellationToken ct = default)
    {
        if (submit is not null && submit.Type is not (DataFormType.Submit or DataFormType.Cancel))
            throw new ArgumentException($"A command stage is answered with a submit or cancel form, not \"{submit.Type.ToWireName()}\".", nameof(submit));
        await _gate.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsEnded)
                throw new InvalidOperationException($"Ad-hoc command session '{SessionId}' of '{Node}' has ended ({Describe()}).");
            if (!IsAllowed(action))
                throw new InvalidOperationException(
                    $"Action '{action.ToWireName()}' is not allowed now; allowed: {string.Join(", ", AllowedActions.Select(a => a.ToWireName()))}.");
            return await SendAsync(action, action == CommandAction.Cancel ? null : submit, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Submits <paramref name="submit"/> with <c>action="execute"</c> (the stage's default action).</summary>
    public Task<CommandResult> ExecuteAsync(DataForm? submit = null, CancellationToken ct = default) =>
        ProceedAsync(CommandAction.Execute, submit, ct);

    /// <summary>Sends <c>action="cancel"</c>. Does nothing when the session has already ended.</summary>
    public async Task CancelAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!IsEnded) await SendAsync(CommandAction.Cancel, null, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Cancels the session if it is still executing. Any <see cref="XmppException"/> from that cancel (stanza
    /// error, expiry, timeout, lost stream) is swallowed: the cancel is only a courtesy to the responder.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_disposed) return;
            _disposed = true;
            if (IsEnded) return;
            try { await SendAsync(CommandAction.Cancel, null, CancellationToken.None); }
            catch (XmppException) { }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<CommandResult> SendAsync(CommandAction action, DataForm? submit, CancellationToken ct)
    {
        var payload = AdHocCommandClient.BuildCommand(Node, SessionId, action, submit);
        XElement reply;
        try
        {
            reply = await _sender.SendIqAsync(To, IqType.Set, payload, _timeout, ct);
        }
        catch (XmppStanzaErrorException e) when (CommandError.IsSessionGone(e.Error))
        {
            _gone = true;
            throw new CommandSessionExpiredException(Node, SessionId, e);
        }
        var result = AdHocCommandClient.ParseReply(reply, Node);
        // A cancel is acknowledged whatever status the responder writes back; the session is over either way.
        if (action == CommandAction.Cancel && result.Status == CommandStatus.Executing)
            result = result with { Status = CommandStatus.Canceled };
        LastResult = result;
        if (result.SessionId is not null) SessionId = result.SessionId;
        return result;
    }

    private string Describe() => _gone ? "expired" : Status.ToString().ToLowerInvariant();
}
