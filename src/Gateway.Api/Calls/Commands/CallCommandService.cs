using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Commands;
using Gateway.Api.Configuration;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Calls.Commands;

/// <summary>
/// The workflows behind <c>POST /calls</c>, <c>DELETE /calls/{id}</c> and transfer. A create is sent at once (its
/// outcome decides the answer); a hang-up or a transfer is first written down as a <see cref="CommandIntent"/> with its
/// <c>call.hangup-requested</c> / <c>call.transfer-requested</c> event, then tried, and answered after the first attempt
/// or <see cref="CallsOptions.IntentAnswerWait"/>, whichever comes first: the client never has to retry a 202.
/// </summary>
public sealed class CallCommandService(
    CallTracker tracker, IActiveCallsCommands commands, CommandIntentRunner intents, IOptions<CallsOptions> options, TimeProvider time)
{
    private readonly CallsOptions _options = options.Value;

    /// <summary>Sends <c>create</c>; the call is visible (with <c>call.requested</c> first) when this returns.</summary>
    /// <exception cref="CallSetupIdInUseException">the call-setup-id is taken.</exception>
    /// <exception cref="CommandFailedException">the command failed (with <see cref="CommandFailedException.CallSetupId"/>
    /// set when it may nevertheless have been carried out).</exception>
    public async Task<TrackedCall> CreateAsync(string from, string to, string callSetupId, string? owner, CallStatusCallback? statusCallback,
        CancellationToken cancellationToken)
    {
        await tracker.BeginCreateAsync(callSetupId, from, to, owner, statusCallback, cancellationToken);
        try
        {
            var resultId = await commands.CreateAsync(from, to, callSetupId, cancellationToken);
            return await tracker.CompleteCreateAsync(callSetupId, resultId, CancellationToken.None);
        }
        catch (CommandFailedException e)
        {
            var unknown = e.InnerException is XmppIqTimeoutException or XmppConnectionLostException { NeverSent: false };
            await tracker.AbandonCreateAsync(callSetupId, outcomeUnknown: unknown);
            if (unknown) e.CallSetupId = callSetupId;
            throw;
        }
        catch (OperationCanceledException)
        {
            await tracker.AbandonCreateAsync(callSetupId, outcomeUnknown: true);
            throw;
        }
    }

    /// <summary>Hangs the call up: nothing to do when it ended; else the intent is written down (once, however often
    /// this is asked) and tried. Returns the call as it is when answering.</summary>
    /// <exception cref="CommandFailedException">the component refused for good on the first attempt (the call shows
    /// <c>call.hangup-failed</c>).</exception>
    public Task<TrackedCall> HangUpAsync(TrackedCall call, CancellationToken cancellationToken) =>
        RequestAsync(call, CommandIntentKind.Hangup, null, null, (c, now) => CallStateMachine.RequestHangup(c, now), cancellationToken);

    /// <summary>Transfers the call's <paramref name="endpoint"/> party to <paramref name="target"/> (written down, then tried).</summary>
    /// <exception cref="CommandFailedException">the component refused for good on the first attempt (the call shows
    /// <c>call.transfer-failed</c>).</exception>
    public Task<TrackedCall> TransferAsync(TrackedCall call, TransferEndpoint endpoint, string target, CancellationToken cancellationToken) =>
        RequestAsync(call, CommandIntentKind.Transfer, endpoint, target, (c, now) => CallStateMachine.RequestTransfer(c, now), cancellationToken);

    private async Task<TrackedCall> RequestAsync(TrackedCall call, CommandIntentKind kind, TransferEndpoint? endpoint, string? target,
        Func<TrackedCall, DateTimeOffset, CallTransition> request, CancellationToken cancellationToken)
    {
        if (call.IsEnded) return call;
        var now = time.GetUtcNow();
        CommandIntent? written = null;
        var current = await tracker.UpdateAsync(call.Id, c =>
        {
            var transition = request(c, now);
            // Hanging up twice asks once: the second request finds the first one's reason set and changes nothing.
            if (c.IsEnded || !transition.Changed(c)) return null;
            written = new CommandIntent
            {
                Id = $"{c.Id}.{transition.Events[^1].Sequence}",
                CallId = c.Id,
                Kind = kind,
                Endpoint = endpoint,
                Target = target,
                CreatedAt = now,
                NextAttemptAt = now,
            };
            return new CallUpdate(transition) { Intents = [written] };
        }, cancellationToken) ?? call;
        if (written is null) return current;

        intents.Track(written);
        var attempt = intents.AttemptAsync(written.Id);
        if (await Task.WhenAny(attempt, Task.Delay(_options.IntentAnswerWait, time, CancellationToken.None)) == attempt &&
            await attempt is IntentOutcome.Failed failed)
            throw failed.Error;
        return await tracker.FindAsync(call.Id, CancellationToken.None) ?? current;
    }
}
