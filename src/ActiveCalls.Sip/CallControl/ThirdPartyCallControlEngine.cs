using System.Collections.Concurrent;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Sip.CallControl;

/// <summary>
/// Third-party call control as a B2BUA (RFC 3725 Flow I): <c>create</c> calls the <c>from</c> party without SDP,
/// sends its offer to the <c>to</c> party and its answer back in the ACK, and keeps both dialogs; media flows between
/// the phones. See <see cref="ThirdPartyCall"/> for the legs published on Active-Calls and their identifiers.
/// </summary>
public sealed class ThirdPartyCallControlEngine : ICallControlEngine, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ThirdPartyCall> _index = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ThirdPartyCall, byte> _calls = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    /// <summary>Starts a SIP UA of its own on the configured socket. With a <paramref name="journal"/>, every call's SIP state
    /// is written there before the messages that depend on it leave (see <see cref="EndRecoveredCallAsync"/>).</summary>
    public ThirdPartyCallControlEngine(SipOptions options, ICallLegObserver observer, TimeProvider? time = null, ILoggerFactory? loggers = null,
        ICallJournal? journal = null)
    {
        Journal = journal;
        ArgumentNullException.ThrowIfNull(options);
        Observer = observer ?? throw new ArgumentNullException(nameof(observer));
        Time = time ?? TimeProvider.System;
        Logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("ActiveCalls.Sip.CallControl");
        UserAgent = new SipUserAgent(options, Time, loggers);
        UserAgent.Start();
    }

    public SipUserAgent UserAgent { get; }

    /// <summary>Calls not ended yet.</summary>
    public int ActiveCallCount => _calls.Count;

    /// <summary>Legs still published by live calls.</summary>
    public int PublishedLegCount => _calls.Keys.Sum(c => c.LegCount);

    internal ICallLegObserver Observer { get; }

    internal ICallJournal? Journal { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal CancellationToken Stopping => _stopping.Token;

    internal DateTimeOffset Now => Time.GetUtcNow();

    public async Task CreateAsync(CallSetup setup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var from = ParseAddress(setup.From, "create");
        var to = ParseAddress(setup.To, "create");
        var fromRoute = UserAgent.Router.Resolve(from) ?? throw NoRoute(setup.From);
        var toRoute = UserAgent.Router.Resolve(to) ?? throw NoRoute(setup.To);

        var call = new ThirdPartyCall(this, setup, from, to, fromRoute, toRoute);
        _calls[call] = 0;
        try
        {
            await call.InvokeAsync(() => call.StartAsync(cancellationToken));
        }
        catch (SipTransportException e)
        {
            _calls.TryRemove(call, out _);
            throw new CallControlException($"Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; {e.Message}");
        }
        catch
        {
            _calls.TryRemove(call, out _);
            throw;
        }
    }

    public Task TerminateAsync(DialogId dialog, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialog);
        var call = Find(dialog.CallId, dialog.FromTag) ?? throw new CallControlException("terminate call failed: no such call");
        return call.InvokeAsync(() => call.TerminateAsync(dialog)).WaitAsync(cancellationToken);
    }

    public Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken)
    {
        var call = Find(callId, fromTag) ?? throw new CallControlException("cancel call failed: no such unanswered call");
        return call.InvokeAsync(() => call.CancelAsync(callId, fromTag)).WaitAsync(cancellationToken);
    }

    public Task TransferAsync(DialogId dialog, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialog);
        var call = Find(dialog.CallId, dialog.FromTag) ?? throw new CallControlException("transfer call failed: no such call");
        var target = ParseAddress(targetUri, "transfer");
        var route = UserAgent.Router.Resolve(target) ?? throw new CallControlException($"transfer call failed: no route to {targetUri}");
        return call.InvokeAsync(() => call.TransferAsync(dialog, endpoint, targetUri, target, route)).WaitAsync(cancellationToken);
    }

    /// <summary>Ends a call journalled by an earlier run of the engine (a crash left it up): BYE in each confirmed dialog
    /// (after a late ACK if needed), CANCEL of each pending INVITE, then the record is removed from the journal.</summary>
    public async Task EndRecoveredCallAsync(CallRecord call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        await RecoveredCall.EndAsync(UserAgent, call, Logger, cancellationToken);
        Journal?.Remove(call.Id);
    }

    internal void Index(ThirdPartyCall call, OutgoingInvite invite) => _index[Key(invite.CallId, invite.LocalTag)] = call;

    internal void Remove(ThirdPartyCall call)
    {
        _calls.TryRemove(call, out _);
        foreach (var entry in _index.Where(e => e.Value == call).ToList()) _index.TryRemove(entry);
    }

    private ThirdPartyCall? Find(string callId, string fromTag) => _index.GetValueOrDefault(Key(callId, fromTag));

    private static string Key(string callId, string fromTag) => callId + "|" + fromTag;

    private static SipUri ParseAddress(string text, string command)
    {
        if (!SipUri.TryParse(text, out var uri) || uri is null || !uri.IsSip || uri.User is null)
            throw new CallControlException(command == "create"
                ? $"Failed to create call: 'Bad Request: INVALID_URI'; '{text}' is not a sip:user@domain URI"
                : $"{command} call failed: '{text}' is not a sip:user@domain URI");
        return uri;
    }

    private static CallControlException NoRoute(string uri) =>
        new($"Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; no route to {uri}");

    /// <summary>Ends every call (BYE/CANCEL, legs retracted), then closes the socket. Safe to call more than once (a
    /// container that registered the engine under two service types disposes it twice).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var call in _calls.Keys.ToList())
        {
            try
            {
                await call.InvokeAsync(() => call.EndAsync(new LegEnd("service stopping"))).WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
            }
        }
        await Task.Delay(50); // let the BYEs and CANCELs leave
        await _stopping.CancelAsync();
        await UserAgent.DisposeAsync();
        _stopping.Dispose();
    }
}
