using Gateway.Api.Configuration;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace Gateway.Api.Commands;

/// <summary>Which party a transfer moves to the target (the other one is hung up).</summary>
public enum TransferEndpoint { Caller, Callee }

/// <summary>A command failed. Carries the node and component for the problem report; <see cref="Exception.InnerException"/>
/// is what the XMPP layer (or Polly) reported.</summary>
public sealed class CommandFailedException(string node, string component, Exception inner)
    : Exception($"Active-Calls command '{node}' to {component} failed: {inner?.Message}", inner)
{
    public string Node { get; } = node;
    public string Component { get; } = component;

    /// <summary>For a create whose outcome is unknown: the call-setup-id to look the call up by.</summary>
    public string? CallSetupId { get; set; }
}

/// <summary>The component answered something a command cannot use (multi-stage form, error note, no result).</summary>
public sealed class UnexpectedCommandResultException(string message) : Exception(message);

/// <summary>The Active-Calls commands, each one single-stage XEP-0050 IQ (the seed's forms).</summary>
public interface IActiveCallsCommands
{
    /// <summary><c>create(from, to, call-setup-id)</c>; returns the call-setup-id of the result's fixed field.</summary>
    Task<string> CreateAsync(string from, string to, string callSetupId, CancellationToken cancellationToken);

    /// <summary><c>terminate(call-id, from-tag, to-tag)</c>: tear down an answered call.</summary>
    Task TerminateAsync(string callId, string fromTag, string toTag, CancellationToken cancellationToken);

    /// <summary><c>cancel(call-id, from-tag)</c>: stop a call that is still ringing.</summary>
    Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken);

    /// <summary><c>transfer(call-id, from-tag, to-tag, endpoint, target-uri)</c>.</summary>
    Task TransferAsync(string callId, string fromTag, string toTag, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken);
}

/// <summary>
/// Sends the commands through <see cref="AdHocCommandClient"/> over the pool, inside the <c>xmpp-commands</c> Polly
/// pipeline (a circuit breaker; never-sent IQs are retried by the pool, not here). The IQ timeout is <see cref="XmppOptions.IqTimeout"/> and
/// the cancellation token is the request's, so a client that goes away stops waiting.
/// </summary>
internal sealed class ActiveCallsCommands : IActiveCallsCommands
{
    public const string PipelineName = "xmpp-commands";

    private readonly AdHocCommandClient _client;
    private readonly Jid _component;
    private readonly TimeSpan _iqTimeout;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger<ActiveCallsCommands> _logger;
    private readonly CommandMetrics _metrics;

    public ActiveCallsCommands(IXmppPool pool, IOptions<ComponentsOptions> components, IOptions<XmppOptions> xmpp,
        ResiliencePipelineProvider<string> pipelines, ILogger<ActiveCallsCommands> logger, CommandMetrics metrics)
    {
        _metrics = metrics;
        _client = new AdHocCommandClient(pool);
        _component = Jid.Parse(components.Value.Commands);
        _iqTimeout = xmpp.Value.IqTimeout;
        _pipeline = pipelines.GetPipeline(PipelineName);
        _logger = logger;
    }

    public async Task<string> CreateAsync(string from, string to, string callSetupId, CancellationToken cancellationToken)
    {
        var form = DataForm.Submit()
            .Add("from", from, FormFieldType.TextSingle)
            .Add("to", to, FormFieldType.TextSingle)
            .Add("call-setup-id", callSetupId, FormFieldType.TextSingle)
            .Build();
        var result = await ExecuteAsync("create", form, cancellationToken);
        var returned = result.Form?.GetValue("call-setup-id");
        if (string.IsNullOrWhiteSpace(returned))
        {
            _logger.LogWarning("create result carries no call-setup-id field; using the one sent ({CallSetupId})", callSetupId);
            return callSetupId;
        }
        return returned.Trim();
    }

    public Task TerminateAsync(string callId, string fromTag, string toTag, CancellationToken cancellationToken) =>
        ExecuteAsync("terminate", DataForm.Submit()
            .Add("call-id", callId, FormFieldType.TextSingle)
            .Add("from-tag", fromTag, FormFieldType.TextSingle)
            .Add("to-tag", toTag, FormFieldType.TextSingle)
            .Build(), cancellationToken);

    public Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken) =>
        ExecuteAsync("cancel", DataForm.Submit()
            .Add("call-id", callId, FormFieldType.TextSingle)
            .Add("from-tag", fromTag, FormFieldType.TextSingle)
            .Build(), cancellationToken);

    public Task TransferAsync(string callId, string fromTag, string toTag, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken) =>
        ExecuteAsync("transfer", DataForm.Submit()
            .Add("call-id", callId, FormFieldType.TextSingle)
            .Add("from-tag", fromTag, FormFieldType.TextSingle)
            .Add("to-tag", toTag, FormFieldType.TextSingle)
            .Add("endpoint", endpoint == TransferEndpoint.Caller ? "caller" : "callee", FormFieldType.ListSingle)
            .Add("target-uri", targetUri, FormFieldType.TextSingle)
            .Build(), cancellationToken);

    private async Task<CommandResult> ExecuteAsync(string node, DataForm form, CancellationToken cancellationToken)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var result = await SendAsync(node, form, cancellationToken);
            _metrics.CommandFinished(node, startedAt, null);
            return result;
        }
        catch (Exception e)
        {
            _metrics.CommandFinished(node, startedAt, e);
            throw;
        }
    }

    private async Task<CommandResult> SendAsync(string node, DataForm form, CancellationToken cancellationToken)
    {
        CommandResult result;
        try
        {
            result = await _pipeline.ExecuteAsync(
                static async (state, token) => await state.Client.ExecuteAsync(state.Component, state.Node, state.Form, state.Timeout, token),
                (Client: _client, Component: _component, Node: node, Form: form, Timeout: _iqTimeout),
                cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new CommandFailedException(node, _component, e);
        }
        if (result.Status == CommandStatus.Executing)
            throw new CommandFailedException(node, _component, new UnexpectedCommandResultException(
                $"The component answered '{node}' with a form to fill in (multi-stage) instead of executing it."));
        if (result.HasErrorNote)
            throw new CommandFailedException(node, _component, new UnexpectedCommandResultException(
                string.Join("; ", result.Notes.Where(n => n.Type == CommandNoteType.Error).Select(n => n.Text))));
        return result;
    }
}
