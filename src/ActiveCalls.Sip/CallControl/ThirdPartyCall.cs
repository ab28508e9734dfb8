using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.CallControl;

/// <summary>
/// One click-to-call, driven as a B2BUA between two (after a transfer: other) SIP dialogs, RFC 3725 Flow I.
/// Every SIP event and command for the call runs on the call's own sequential work queue, so the state below is
/// only touched by one thing at a time.
/// </summary>
/// <remarks>
/// <para><b>Which legs exist, and on which node.</b> The B2BUA holds two dialogs: D<sub>A</sub> (us → the
/// <c>from</c> party, Call-ID c<sub>A</sub>, our tag X) and D<sub>B</sub> (us, acting as <c>from</c> → the
/// <c>to</c> party, Call-ID c<sub>B</sub>, our tag Y). OnSIP's own flow has the phone REFERred to the callee; the
/// items it publishes are the setup leg and the phone's own outgoing call. We publish the same items:</para>
/// <list type="number">
/// <item><b>Setup leg</b> on A's node: D<sub>A</sub>'s identifiers, <c>requested</c> while A rings, from
/// <c>sip:call-setup@domain</c> to <c>from</c>, branch and to-aor set; <c>confirmed</c> (same item id, A's to-tag)
/// when A answers; retracted once A and B are connected.</item>
/// <item><b>Caller↔callee leg</b> on A's node: D<sub>B</sub>'s identifiers, <c>created</c> when B is invited (from =
/// <c>from</c>, to = <c>to</c>, no branch, no to-aor), <c>confirmed</c> when B answers. After the connection
/// D<sub>A</sub> is still up, but it is this item that represents A's side of the conversation: D<sub>A</sub> is
/// re-labelled from the setup leg to the caller↔callee leg.</item>
/// <item><b>Callee leg</b> on B's node (only when B's domain is local, see <see cref="SipOptions.IsLocalDomain"/>):
/// D<sub>B</sub>'s identifiers with B's branch and to-aor, <c>requested</c> then <c>confirmed</c>.</item>
/// </list>
/// <para>Every identifier published (c<sub>A</sub>/X and c<sub>B</sub>/Y with their to-tags) is accepted back by
/// terminate, cancel and transfer. The call ends — both dialogs hung up or cancelled and every remaining leg
/// retracted — on terminate, on a BYE from either phone, or on any failure.</para>
/// </remarks>
internal sealed partial class ThirdPartyCall
{
    private readonly ThirdPartyCallControlEngine _engine;
    private readonly Channel<Func<Task>> _work = Channel.CreateUnbounded<Func<Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, CallLeg> _legs = new(StringComparer.Ordinal);

    public ThirdPartyCall(ThirdPartyCallControlEngine engine, CallSetup setup, SipUri from, SipUri to, SipRoute fromRoute, SipRoute toRoute)
    {
        _engine = engine;
        Setup = setup;
        A = new Party(this, PartyRole.Caller, setup.From, from, fromRoute);
        B = new Party(this, PartyRole.Callee, setup.To, to, toRoute);
        // The command that created the call: its steps run in this context (it flows into the work queue), and the
        // transactions its dialogs' phones start join it (SipCallTraces).
        TraceParent = Activity.Current?.Context ?? default;
        _ = Task.Run(RunAsync);
    }

    /// <summary>The trace the call's SIP transactions and publishes belong to (default when not traced).</summary>
    public ActivityContext TraceParent { get; }

    /// <summary>Requests of <paramref name="invite"/>'s dialog that the phone sends join the call's trace.</summary>
    private OutgoingInvite Traced(OutgoingInvite invite)
    {
        _engine.UserAgent.Transactions.Traces.Follow(invite.CallId, TraceParent);
        return invite;
    }

    public CallSetup Setup { get; }

    public CallState State { get; private set; } = CallState.CallingCaller;

    /// <summary>The party called first (the <c>from</c> address), or after a callee-transfer the kept callee.</summary>
    public Party A { get; private set; }

    /// <summary>The party A is connected to.</summary>
    public Party B { get; private set; }

    /// <summary>The transfer target being called, if a transfer is under way.</summary>
    public Party? T { get; private set; }

    private ILogger Logger => _engine.Logger;

    private SipOptions Options => _engine.UserAgent.Options;

    private string CallSetupDomain => Options.CallSetupDomain ?? A.Uri.Host;

    public override string ToString() => $"call {Setup.CallSetupId} {Setup.From} → {Setup.To} ({State})";

    // ---- the work queue ------------------------------------------------------------------------------------------

    private async Task RunAsync()
    {
        await foreach (var item in _work.Reader.ReadAllAsync())
        {
            try
            {
                await item();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Logger.LogError(e, "{Call}: a step failed", this);
            }
        }
    }

    /// <summary>Queues <paramref name="step"/> behind everything already queued for this call.</summary>
    public void Post(Func<Task> step) => _work.Writer.TryWrite(step);

    public void Post(Action step) => Post(() =>
    {
        step();
        return Task.CompletedTask;
    });

    /// <summary>Runs <paramref name="step"/> on the queue and returns its outcome (exceptions included).</summary>
    public Task InvokeAsync(Func<Task> step)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(async () =>
        {
            try
            {
                await step();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        return done.Task;
    }

    // ---- legs ----------------------------------------------------------------------------------------------------

    internal static string NewItemId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private async Task PublishAsync(CallLeg leg)
    {
        _legs[leg.ItemId] = leg;
        try
        {
            await _engine.Observer.LegUpdatedAsync(leg, _engine.Stopping);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogWarning(e, "{Call}: publishing leg {ItemId} failed", this, leg.ItemId);
        }
    }

    private async Task RetractAsync(string? itemId, LegEnd end)
    {
        if (itemId is null || !_legs.Remove(itemId, out var leg)) return;
        try
        {
            await _engine.Observer.LegEndedAsync(leg with { Timestamp = _engine.Now }, end, _engine.Stopping);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogWarning(e, "{Call}: retracting leg {ItemId} failed", this, leg.ItemId);
        }
    }

    private Task UpdateAsync(string? itemId, Func<CallLeg, CallLeg> change) =>
        itemId is not null && _legs.TryGetValue(itemId, out var leg) ? PublishAsync(change(leg) with { Timestamp = _engine.Now }) : Task.CompletedTask;

    /// <summary>Legs still published (for tests and diagnostics).</summary>
    public int LegCount => _legs.Count;

    // ---- lookups for commands ------------------------------------------------------------------------------------

    /// <summary>The party whose dialog or INVITE has Call-ID <paramref name="callId"/> and our tag <paramref name="fromTag"/>.</summary>
    public Party? PartyFor(string callId, string fromTag)
    {
        foreach (var p in Parties())
            if (p.Invite is { } inv && inv.CallId == callId && inv.LocalTag == fromTag) return p;
        return null;
    }

    private IEnumerable<Party> Parties()
    {
        yield return A;
        yield return B;
        if (T is not null) yield return T;
    }
}

internal enum CallState { CallingCaller, CallingCallee, Connected, Transferring, Ended }

internal enum PartyRole { Caller, Callee, Target }
