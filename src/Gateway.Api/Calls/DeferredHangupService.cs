using Gateway.Api.Commands;

namespace Gateway.Api.Calls;

/// <summary>
/// Carries out hang-ups asked for before the call had a leg (<see cref="CallRegistry.DeferHangup"/>): as soon as a leg
/// shows up, its dialog is cancelled (or terminated, if it was already answered). Failures are logged; the call's events
/// show whether it ended.
/// </summary>
internal sealed class DeferredHangupService(CallRegistry registry, IActiveCallsCommands commands, ILogger<DeferredHangupService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in registry.ReadyHangups.ReadAllAsync(stoppingToken))
            {
                if (registry.TakeDeferredHangup(id) is not { } plan) continue;
                foreach (var command in plan.Commands)
                {
                    try
                    {
                        if (command.IsTerminate) await commands.TerminateAsync(command.CallId, command.FromTag, command.ToTag!, stoppingToken);
                        else await commands.CancelAsync(command.CallId, command.FromTag, stoppingToken);
                    }
                    catch (CommandFailedException e)
                    {
                        logger.LogWarning("Deferred hang-up of call {CallId} ({Node}) failed: {Reason}", id, e.Node, e.InnerException?.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
