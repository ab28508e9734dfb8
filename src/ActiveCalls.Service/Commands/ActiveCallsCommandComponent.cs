using System.Diagnostics;
using System.Xml.Linq;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tracing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ActiveCalls.Service.Commands;

/// <summary>
/// <c>commands.active-calls.&lt;domain&gt;</c>: the XEP-0050 responder for <c>create</c>, <c>terminate</c>,
/// <c>transfer</c> and <c>cancel</c>, with its disco#info and disco#items, as OnSIP's "Active-Calls Component" page
/// (our seed) describes it. <see cref="Attach"/> wires it to a component stream.
/// </summary>
/// <remarks>
/// <para>A <c>&lt;command node&gt;</c> carrying a form runs at once (single stage). One without a form (action absent
/// or <c>execute</c>) opens a session and answers the node's form; the submission with that <c>sessionid</c>
/// (action absent, <c>execute</c> or <c>complete</c>) runs it, <c>cancel</c> ends it. A rejected form keeps the
/// session open for a corrected submission; a run (successful or not) closes it.</para>
/// <para>Every field is validated (<see cref="CommandValidator"/>) before the engine is called.</para>
/// </remarks>
public sealed class ActiveCallsCommandComponent
{
    public const string IdentityName = "Active-Calls";

    private readonly ICallControlEngine _engine;
    private readonly ActiveCallsServiceOptions _options;
    private readonly ILogger _logger;

    public ActiveCallsCommandComponent(
        ICallControlEngine engine,
        IOptions<ActiveCallsServiceOptions> options,
        TimeProvider timeProvider,
        ILogger<ActiveCallsCommandComponent> logger)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _engine = engine;
        _options = options.Value;
        _logger = logger;
        Sessions = new CommandSessionStore(_options.CommandSessionLifetime, timeProvider);
    }

    /// <summary>The open multi-stage sessions.</summary>
    public CommandSessionStore Sessions { get; }

    /// <summary>
    /// Registers the command and disco handlers on <paramref name="router"/> (normally the component's
    /// <c>XmppComponent</c>) until the result is disposed. <paramref name="componentJid"/> is the JID disco#items names
    /// for the commands; by default <see cref="ActiveCallsServiceOptions.CommandsJid"/>.
    /// </summary>
    public IDisposable Attach(IIqRequestRouter router, Jid? componentJid = null)
    {
        ArgumentNullException.ThrowIfNull(router);
        var jid = componentJid ?? _options.CommandsJid;
        var registrations = new List<IDisposable>();
        try
        {
            registrations.Add(router.RegisterIqHandler(IqType.Set, Ns.Commands + "command", HandleCommandAsync));
            registrations.Add(router.RegisterIqHandler(IqType.Get, Ns.Commands + "command", (_, _) => Task.FromResult(CommandErrors.NotASet())));
            registrations.Add(router.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", (request, _) => Task.FromResult(DiscoInfo(request))));
            registrations.Add(router.RegisterIqHandler(IqType.Get, Ns.DiscoItems + "query", (request, _) => Task.FromResult(DiscoItems(request, jid))));
        }
        catch
        {
            foreach (var registration in registrations) registration.Dispose();
            throw;
        }
        return new Registrations(registrations);
    }

    /// <summary>Handles an IQ set carrying <c>&lt;command xmlns="http://jabber.org/protocol/commands"/&gt;</c>, in a server
    /// span parented to the trace context the command carries, if any (<see cref="TraceContextElement"/>).</summary>
    public async Task<IqResponse> HandleCommandAsync(IqRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!ServiceTracing.Source.HasListeners()) return await HandleCommandCoreAsync(request, cancellationToken);
        TraceContextElement.TryRead(request.Payload, out var parent);
        var node = (string?)request.Payload.Attribute("node");
        using var span = ServiceTracing.Source.StartActivity("xmpp.command " + (CommandNodes.Find(node) is null ? "unknown" : node), ActivityKind.Server, parent);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("rpc.system", "xmpp");
            span.SetTag("xmpp.iq.id", request.Id);
            span.SetTag("xmpp.from", request.From?.ToString());
            span.SetTag("xmpp.command.node", node);
            span.SetTag("xmpp.command.action", (string?)request.Payload.Attribute("action") ?? "execute");
        }
        var response = await HandleCommandCoreAsync(request, cancellationToken);
        if (span is { IsAllDataRequested: true })
        {
            switch (response)
            {
                case IqResponse.ErrorResponse error:
                    span.SetStatus(ActivityStatusCode.Error, error.Error.Text);
                    span.SetTag("error.type", error.Error.Condition);
                    break;
                case IqResponse.ResultResponse result:
                    span.SetTag("xmpp.command.status", (string?)result.Payload?.Attribute("status"));
                    break;
            }
        }
        return response;
    }

    private async Task<IqResponse> HandleCommandCoreAsync(IqRequest request, CancellationToken cancellationToken)
    {
        if (request.Type != IqType.Set) return CommandErrors.NotASet();
        var command = request.Payload;
        var node = (string?)command.Attribute("node");
        if (CommandNodes.Find(node) is null) return CommandErrors.UnknownNode();
        var actionText = (string?)command.Attribute("action");
        if (actionText is not (null or "execute" or "complete" or "cancel" or "next" or "prev")) return CommandErrors.MalformedAction();
        var sessionId = (string?)command.Attribute("sessionid");
        var owner = request.From?.ToString() ?? "";
        var form = command.Element(Ns.DataForms + "x");

        if (!string.IsNullOrEmpty(sessionId)) return await ContinueAsync(request, node!, sessionId, owner, actionText, form, cancellationToken);

        switch (actionText)
        {
            case "next" or "prev":
                return CommandErrors.BadAction(actionText);
            case "cancel":
                return CommandErrors.BadSessionId(); // nothing to cancel without a session
            case null or "execute" when form is null:
                if (Sessions.Open(owner, node!) is not { } session)
                {
                    _logger.LogWarning("Refused a {Node} session for {Requester}: too many open command sessions", node, owner);
                    return CommandErrors.TooManySessions();
                }
                return CommandResponses.Executing(node!, session.SessionId, CommandForms.For(node!));
            default:
                return (await RunAsync(request, node!, CommandIds.NewSessionId(), form, cancellationToken)).Response;
        }
    }

    private async Task<IqResponse> ContinueAsync(
        IqRequest request, string node, string sessionId, string owner, string? action, XElement? form, CancellationToken cancellationToken)
    {
        switch (action)
        {
            case "cancel":
                return Sessions.Take(sessionId, owner, node) is null
                    ? CommandErrors.BadSessionId()
                    : CommandResponses.Canceled(node, sessionId);
            case "next" or "prev":
                return Sessions.Touch(sessionId, owner, node) ? CommandErrors.BadAction(action) : CommandErrors.BadSessionId();
        }
        if (Sessions.Take(sessionId, owner, node) is not { } session) return CommandErrors.BadSessionId();
        var outcome = await RunAsync(request, node, sessionId, form, cancellationToken);
        if (outcome.Rejected) Sessions.Return(session);
        return outcome.Response;
    }

    /// <summary>Validates the submitted form and, when it is good, has the engine act on it.</summary>
    /// <returns>The reply, and whether the form was rejected (the engine was not called).</returns>
    private async Task<(IqResponse Response, bool Rejected)> RunAsync(
        IqRequest request, string node, string sessionId, XElement? formElement, CancellationToken cancellationToken)
    {
        var requester = request.From?.ToString();
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        DataForm form;
        try
        {
            form = formElement is null ? new DataForm(DataFormType.Submit) : DataForm.Parse(formElement);
        }
        catch (XmppProtocolException e)
        {
            ServiceMetrics.CommandHandled(node, "rejected", startedAt);
            return (CommandErrors.Validation(node, sessionId, formElement, [$"Malformed data form: {e.Message}"]), true);
        }
        if (form.Type != DataFormType.Submit)
        {
            ServiceMetrics.CommandHandled(node, "rejected", startedAt);
            return (CommandErrors.Validation(node, sessionId, formElement, [$"The data form must be of type 'submit', not '{form.Type.ToWireName()}'"]), true);
        }

        var validation = CommandValidator.Validate(node, form);
        if (validation.Input is not { } input)
        {
            _logger.LogDebug("Rejected {Node} from {Requester}: {Errors}", node, requester, string.Join("; ", validation.Errors));
            ServiceMetrics.CommandHandled(node, "rejected", startedAt);
            return (CommandErrors.Validation(node, sessionId, formElement, validation.Errors), true);
        }

        try
        {
            var result = await ExecuteAsync(input, requester, cancellationToken);
            _logger.LogInformation("{Node} for {Requester} accepted (session {SessionId})", node, requester, sessionId);
            ServiceMetrics.CommandHandled(node, "completed", startedAt);
            return (CommandResponses.Completed(node, sessionId, result), false);
        }
        catch (CallControlException e)
        {
            _logger.LogInformation("{Node} for {Requester} failed: {Message}", node, requester, e.Message);
            ServiceMetrics.CommandHandled(node, "failed", startedAt);
            return (CommandErrors.Execution(node, sessionId, formElement, e.Message), false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(e, "{Node} for {Requester} failed unexpectedly", node, requester);
            ServiceMetrics.CommandHandled(node, "error", startedAt);
            return (CommandErrors.Internal(), false);
        }
    }

    /// <returns>The result form, if the node has one.</returns>
    private async Task<DataForm?> ExecuteAsync(CommandInput input, string? requester, CancellationToken cancellationToken)
    {
        switch (input)
        {
            case CreateCallInput create:
                var callSetupId = create.CallSetupId ?? CommandIds.NewCallSetupId();
                if (Activity.Current is { } span && span.Source == ServiceTracing.Source) span.SetTag("activecalls.call_setup_id", callSetupId);
                await _engine.CreateAsync(new CallSetup(create.From, create.To, callSetupId, requester), cancellationToken);
                ServiceMetrics.CallPlaced();
                return CommandForms.CreateResult(callSetupId);
            case TerminateCallInput terminate:
                await _engine.TerminateAsync(terminate.Dialog, cancellationToken);
                return null;
            case TransferCallInput transfer:
                await _engine.TransferAsync(transfer.Dialog, transfer.Endpoint, transfer.TargetUri, cancellationToken);
                return null;
            case CancelCallInput cancel:
                await _engine.CancelAsync(cancel.CallId, cancel.FromTag, cancellationToken);
                return null;
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input, null);
        }
    }

    /// <summary>disco#info of the component (identity <c>automation/command-list</c>), of the commands node, or of one
    /// command node (identity <c>automation/command-node</c>, XEP-0050 §2.3).</summary>
    public static IqResponse DiscoInfo(IqRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoInfo + "query", node is null ? null : new XAttribute("node", node));
        if (node is null || node == Ns.Commands.NamespaceName)
        {
            query.Add(Identity("command-list", IdentityName),
                Feature(Ns.Commands.NamespaceName), Feature(Ns.DiscoInfo.NamespaceName), Feature(Ns.DiscoItems.NamespaceName));
            return IqResponse.Result(query);
        }
        if (CommandNodes.Find(node) is not { } command) return CommandErrors.UnknownNode();
        query.Add(Identity("command-node", command.Name), Feature(Ns.Commands.NamespaceName), Feature(Ns.DataForms.NamespaceName));
        return IqResponse.Result(query);
    }

    /// <summary>disco#items: the command list on node <c>http://jabber.org/protocol/commands</c> (XEP-0050 §2.2); no
    /// items elsewhere.</summary>
    public static IqResponse DiscoItems(IqRequest request, Jid componentJid)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(componentJid);
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoItems + "query", node is null ? null : new XAttribute("node", node));
        if (node == Ns.Commands.NamespaceName)
        {
            foreach (var command in CommandNodes.All)
                query.Add(new XElement(Ns.DiscoItems + "item",
                    new XAttribute("jid", componentJid.ToString()), new XAttribute("node", command.Node), new XAttribute("name", command.Name)));
        }
        else if (node is not null && CommandNodes.Find(node) is null)
        {
            return CommandErrors.UnknownNode();
        }
        return IqResponse.Result(query);
    }

    private static XElement Identity(string type, string name) =>
        new(Ns.DiscoInfo + "identity", new XAttribute("category", "automation"), new XAttribute("type", type), new XAttribute("name", name));

    private static XElement Feature(string var) => new(Ns.DiscoInfo + "feature", new XAttribute("var", var));

    private sealed class Registrations(List<IDisposable> registrations) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            foreach (var registration in registrations) registration.Dispose();
        }
    }
}
