using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Calls.State;

/// <summary>
/// The call state machine: (call, input, now) → (next call, events). Pure: no locks, no clock, no I/O; the caller
/// (<see cref="CallTracker"/>) serialises inputs, reads the time and stores the result.
/// <list type="bullet">
/// <item>A leg never goes back: a <c>requested</c> after its <c>confirmed</c>, an older publish-time, a publish after its
/// retract and a duplicate are ignored, and events are emitted only when the summarised state or a leg changes, so
/// duplicated and reordered notifications produce no duplicated or reordered events.</item>
/// <item>A call that is not <see cref="TrackedCall.Visible"/> keeps its events in <see cref="TrackedCall.Held"/> (seed
/// note [1]: events can arrive before the create result); they are numbered when it becomes visible, after
/// <c>call.requested</c>.</item>
/// <item>Event sequences are per call, from 1, without gaps; an event's id is <c>{call id}.{sequence}</c>.</item>
/// </list>
/// </summary>
public static class CallStateMachine
{
    public const string Requested = "call.requested";
    public const string Updated = "call.updated";
    public const string Ended = "call.ended";
    public const string HangupRequested = "call.hangup-requested";
    public const string HangupFailed = "call.hangup-failed";
    public const string TransferRequested = "call.transfer-requested";
    public const string TransferFailed = "call.transfer-failed";

    /// <summary>The id of a call made without a create command: <c>c_</c> + 16 hex of SHA-256(SIP Call-ID), the same in
    /// every gateway replica and across restarts.</summary>
    public static string PlainCallId(string sipCallId) =>
        "c_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sipCallId)))[..16];

    // ---- commands ------------------------------------------------------------------------------------------------

    /// <summary>A create is about to be sent: the call (new, or held with early events of the same call-setup-id) waits
    /// for its result, holding its events.</summary>
    public static TrackedCall BeginCreate(TrackedCall? held, string callSetupId, string from, string to, string? owner, DateTimeOffset now,
        CallStatusCallback? statusCallback = null)
    {
        var call = (held ?? NewCall(callSetupId, callSetupId, now)) with
        {
            From = from,
            To = to,
            Owner = owner,
            StatusCallback = statusCallback,
            RequestedByApi = true,
            CreateInFlight = true,
            HoldUntil = null,
            // When the create began: a sweep tells a create still in flight from one its replica never finished by it.
            UpdatedAt = now,
        };
        return call with { Legs = [.. call.Legs.Select(l => l with { Role = RoleOf(call, l.Item) })] };
    }

    /// <summary>The create succeeded: the call becomes visible, <c>call.requested</c> first, then what its held events say.</summary>
    public static CallTransition CompleteCreate(TrackedCall call, DateTimeOffset now, CallTimings timings) =>
        Release(call with { CreateInFlight = false }, now, timings);

    /// <summary>The component answered another call-setup-id than the one sent: the call takes that id, with the legs and
    /// held events of <paramref name="early"/> (the events that arrived under the answered id before the result).</summary>
    public static TrackedCall Rename(TrackedCall call, string callSetupId, TrackedCall? early, DateTimeOffset now, CallTimings timings)
    {
        var renamed = call with { Id = callSetupId, CallSetupId = callSetupId };
        if (early is not null)
            renamed = renamed with { Legs = renamed.Legs.AddRange(early.Legs), Held = renamed.Held.AddRange(early.Held), State = early.State };
        renamed = renamed with { Legs = [.. renamed.Legs.Select(l => l with { Role = RoleOf(renamed, l.Item) })] };
        return Summarise(new Emitter(renamed), now, timings, legsChanged: false).Done().Call;
    }

    /// <summary>The create failed. Null when the call is to be forgotten (the create surely did nothing and no leg showed
    /// up); a call whose outcome is unknown (timeout, stream lost after sending) stays held, its call-setup-id taken,
    /// until legs show up or <see cref="ResolveUnknownCreate"/> finds none (see <see cref="TrackedCall.OutcomeUnknownSince"/>).</summary>
    public static CallTransition? AbandonCreate(TrackedCall call, bool outcomeUnknown, DateTimeOffset now, CallTimings timings)
    {
        if (!call.CreateInFlight) return CallTransition.Unchanged(call);
        var next = call with { CreateInFlight = false };
        if (!next.Legs.IsEmpty) return Release(next, now, timings);
        return outcomeUnknown ? CallTransition.Unchanged(next with { HoldUntil = null, OutcomeUnknownSince = now }) : null;
    }

    /// <summary>How many reconciliations in a row must find none of its items before a create of unknown outcome is
    /// taken as having placed no call. One is not enough: a server that was frozen delivers the create late, right when
    /// it resumes, and the first reconciliation after that may be answered before the call's first leg is published.</summary>
    public const int UnknownCreateMissesToForget = 2;

    /// <summary>
    /// A reconciliation fetched the service's items at <paramref name="fetchedAt"/> and none carries the call's
    /// call-setup-id. For a create whose outcome was unknown since at least <see cref="CallTimings.EarlyEventHoldTime"/>
    /// before the fetch, that is one miss; after <see cref="UnknownCreateMissesToForget"/> misses in a row the create
    /// surely placed no call that is still up, so it is forgotten (null) and its call-setup-id is free again. Anything
    /// else is left as it is.
    /// </summary>
    public static CallTransition? ResolveUnknownCreate(TrackedCall call, IReadOnlySet<string> presentCallSetupIds, DateTimeOffset fetchedAt, CallTimings timings)
    {
        if (call is not { OutcomeUnknownSince: { } since, Visible: false, CreateInFlight: false } || !call.Legs.IsEmpty) return CallTransition.Unchanged(call);
        if (fetchedAt - since < timings.EarlyEventHoldTime || presentCallSetupIds.Contains(call.CallSetupId ?? call.Id)) return CallTransition.Unchanged(call);
        var misses = call.OutcomeUnknownMisses + 1;
        return misses >= UnknownCreateMissesToForget ? null : CallTransition.Unchanged(call with { OutcomeUnknownMisses = misses });
    }

    /// <summary>What hanging the call up sends now: per live dialog, <c>terminate</c> when answered, <c>cancel</c> when still
    /// ringing, answered dialogs first (ending the talking parties matters most if a later command fails). Empty when
    /// no leg gives a dialog to address yet.</summary>
    public static ImmutableArray<HangupCommand> PlanHangup(TrackedCall call)
    {
        var commands = new List<HangupCommand>();
        foreach (var dialog in call.Legs
                     .Where(l => !l.Retracted && l.Item.CallId is not null && l.Item.FromTag is not null)
                     .GroupBy(l => (l.Item.CallId!, l.Item.FromTag!)))
        {
            var answered = dialog.FirstOrDefault(l => l.IsAnswered && l.Item.ToTag is not null);
            commands.Add(new HangupCommand(dialog.Key.Item1, dialog.Key.Item2, answered?.Item.ToTag));
        }
        return [.. commands.OrderByDescending(c => c.IsTerminate)];
    }

    /// <summary>The answered dialog a transfer addresses (the callee side's, else any answered one), or null.</summary>
    public static TransferDialog? FindTransferDialog(TrackedCall call)
    {
        if (call.IsEnded) return null;
        var leg = call.Legs
            .Where(l => !l.Retracted && l.IsAnswered && l.Item.CallId is not null && l.Item.FromTag is not null && l.Item.ToTag is not null)
            .OrderBy(l => l.Role == LegRole.Callee ? 0 : 1)
            .FirstOrDefault();
        return leg is null ? null : new TransferDialog(leg.Item.CallId!, leg.Item.FromTag!, leg.Item.ToTag!);
    }

    /// <summary>The API asked to hang up (<c>call.hangup-requested</c>): legs that end from now on end the call as
    /// <c>terminated</c> when an answered dialog is being ended, else <c>canceled</c>. Asking again while the first
    /// request is outstanding changes nothing; asking after it was carried out (the call is still up) asks again.</summary>
    public static CallTransition RequestHangup(TrackedCall call, DateTimeOffset now)
    {
        if (call.IsEnded || call.HangupPending) return CallTransition.Unchanged(call);
        var reason = PlanHangup(call).Any(c => c.IsTerminate) || call.Hangup == CallEndReason.Terminated ? CallEndReason.Terminated : CallEndReason.Canceled;
        var emitter = new Emitter(call with { Hangup = reason, HangupPending = true });
        emitter.Emit(HangupRequested, now);
        return emitter.Done();
    }

    /// <summary>A hang-up attempt is sending <paramref name="commands"/>: a terminate among them makes it <c>terminated</c>
    /// (the call was answered since the request).</summary>
    public static TrackedCall HangupSending(TrackedCall call, IReadOnlyCollection<HangupCommand> commands) =>
        !call.IsEnded && commands.Any(c => c.IsTerminate) && call.Hangup != CallEndReason.Terminated ? call with { Hangup = CallEndReason.Terminated } : call;

    /// <summary>The hang-up's commands were carried out: the call ends as its legs go, for the hang-up's reason.</summary>
    public static TrackedCall HangupCarriedOut(TrackedCall call) => call.HangupPending ? call with { HangupPending = false } : call;

    /// <summary>The hang-up could not be carried out (<c>call.hangup-failed</c> with why): legs that end from now on end the
    /// call for their own reasons.</summary>
    public static CallTransition FailHangup(TrackedCall call, string reason, DateTimeOffset now)
    {
        if (call.IsEnded) return CallTransition.Unchanged(call);
        var emitter = new Emitter(call with { Hangup = null, HangupPending = false });
        emitter.Emit(HangupFailed, now, reason);
        return emitter.Done();
    }

    /// <summary>A transfer was accepted (<c>call.transfer-requested</c>); its outcome shows in later events.</summary>
    public static CallTransition RequestTransfer(TrackedCall call, DateTimeOffset now) => Note(call, TransferRequested, now, null);

    /// <summary>The transfer could not be carried out (<c>call.transfer-failed</c> with why).</summary>
    public static CallTransition FailTransfer(TrackedCall call, string reason, DateTimeOffset now) => Note(call, TransferFailed, now, reason);

    // ---- PubSub --------------------------------------------------------------------------------------------------

    /// <summary>Where a leg that is not yet known belongs: its call-setup-id, else its SIP Call-ID, else its item id.</summary>
    public static (string Id, string? CallSetupId) CallKeyOf(ActiveCallItem item, string itemId) =>
        item.CallSetupId is { } setupId ? (setupId, setupId) : (PlainCallId(item.CallId ?? itemId), null);

    /// <summary>A call first seen through a leg: held when it carries a call-setup-id (a create may still claim it),
    /// visible otherwise.</summary>
    public static TrackedCall NewFromItem(ActiveCallItem item, string itemId, DateTimeOffset now, CallTimings timings)
    {
        var (id, callSetupId) = CallKeyOf(item, itemId);
        var call = NewCall(id, callSetupId, now);
        return callSetupId is null ? call with { Visible = true } : call with { HoldUntil = now + timings.EarlyEventHoldTime };
    }

    /// <summary>An <c>onsip:active-calls</c> item was published (or re-published) on <paramref name="node"/>.</summary>
    public static CallTransition ApplyPublished(TrackedCall call, ActiveCallItem item, string itemId, string node, DateTimeOffset now, CallTimings timings)
    {
        if (call.IsEnded) return CallTransition.Unchanged(call);
        TrackedCall next;
        if (call.Leg(itemId) is { } leg)
        {
            if (leg.Retracted) return CallTransition.Unchanged(call);
            if (Rank(item.DialogState) < Rank(leg.Item.DialogState)) return CallTransition.Unchanged(call);
            if (item.PublishTime is { } t && leg.Item.PublishTime is { } p && t < p) return CallTransition.Unchanged(call);
            var seen = leg with { LastSeenAt = now };
            if (item == leg.Item) return CallTransition.Unchanged(ReplaceLeg(call, leg, seen));
            next = ReplaceLeg(call, leg, seen with { Item = item, Node = node });
        }
        else
        {
            var added = new TrackedLeg { ItemId = itemId, Node = node, Item = item, Role = RoleOf(call, item), FirstSeenAt = now, LastSeenAt = now };
            next = call with { Legs = call.Legs.Add(added) };
            if (next.CallSetupId is null) next = next with { From = next.From ?? item.FromUri, To = next.To ?? item.ToUri };
            else if (added.Role == LegRole.Caller) next = next with { From = next.From ?? item.ToUri };
            else next = next with { To = next.To ?? item.ToUri };
        }
        // A create whose answer never came (timeout, the process restarted): its first leg shows it went through.
        if (next is { RequestedByApi: true, CreateInFlight: false, Visible: false }) return Release(next with { UpdatedAt = now }, now, timings);
        return Summarise(new Emitter(next with { UpdatedAt = now }), now, timings, legsChanged: true).Done();
    }

    /// <summary>An item was retracted: that leg ended.</summary>
    public static CallTransition ApplyRetracted(TrackedCall call, string itemId, DateTimeOffset now, CallTimings timings)
    {
        if (call.Leg(itemId) is not { Retracted: false } leg) return CallTransition.Unchanged(call);
        var next = ReplaceLeg(call, leg, leg with { Retracted = true, EndedAt = now }) with { LastRetractAt = now, UpdatedAt = now };
        return Summarise(new Emitter(next), now, timings, legsChanged: true).Done();
    }

    /// <summary>After a (re)subscription: the live legs not among <paramref name="present"/> item ids ended while nobody
    /// was listening. Legs seen after <paramref name="asOf"/> are spared (a notification newer than the fetch wins).</summary>
    public static CallTransition EndVanishedLegs(TrackedCall call, IReadOnlySet<string> present, DateTimeOffset? asOf, DateTimeOffset now, CallTimings timings)
    {
        if (call.IsEnded) return CallTransition.Unchanged(call);
        if (call.Legs.IsEmpty) return EndIfNeverSeen(call, asOf, now, timings);
        var vanished = false;
        var legs = call.Legs.Select(l =>
        {
            if (l.Retracted || present.Contains(l.ItemId) || (asOf is { } at && l.LastSeenAt > at)) return l;
            vanished = true;
            return l with { Retracted = true, EndedAt = now };
        }).ToImmutableArray();
        if (!vanished) return CallTransition.Unchanged(call);
        // Ended while nobody was listening: how is unknown, unless the API was hanging it up.
        return Summarise(new Emitter(call with { Legs = legs, LastRetractAt = now, UpdatedAt = now }), now, timings, legsChanged: true,
            endedAs: call.Hangup is null ? CallEndReason.Lost : null).Done();
    }

    /// <summary>
    /// A created call none of whose legs ever reached the gateway, and which the fetch does not show either (the current
    /// items are applied before this runs, so no item names it): its legs came and went while nobody was listening, e.g.
    /// the subscription was down while it rang and the service restarted. Ended as <c>lost</c>, or as the hang-up the API
    /// asked for (which needs a leg to address, so it would otherwise wait for the setup timeout). Only once
    /// its first leg is surely overdue, <see cref="CallTimings.EarlyEventHoldTime"/> after its creation counted to when
    /// the fetch was asked for, so a fetch racing a fresh create never ends it.
    /// </summary>
    private static CallTransition EndIfNeverSeen(TrackedCall call, DateTimeOffset? asOf, DateTimeOffset now, CallTimings timings)
    {
        if (asOf is not { } fetchedAt || !call.Visible || call.CreateInFlight || call.OutcomeUnknownSince is not null ||
            fetchedAt - call.CreatedAt < timings.EarlyEventHoldTime)
            return CallTransition.Unchanged(call);
        var emitter = new Emitter(call);
        End(emitter, call.Hangup ?? CallEndReason.Lost, now);
        return emitter.Done();
    }

    // ---- time ----------------------------------------------------------------------------------------------------

    /// <summary>When <see cref="Tick"/> has something to do for the call, or null.</summary>
    public static DateTimeOffset? NextDeadline(TrackedCall call, CallTimings timings)
    {
        if (!call.Visible) return call.CreateInFlight || call.OutcomeUnknownSince is not null ? null : call.HoldUntil;
        if (call.IsEnded) return null;
        if (call.GraceUntil is { } grace) return grace;
        return call.Legs.IsEmpty ? call.CreatedAt + timings.SetupTimeout : null;
    }

    /// <summary>Applies time: releases held events (or drops a held call without legs: null), ends a call whose callee
    /// grace or setup time ran out.</summary>
    public static CallTransition? Tick(TrackedCall call, DateTimeOffset now, CallTimings timings)
    {
        if (!call.Visible)
        {
            if (call.CreateInFlight || call.OutcomeUnknownSince is not null || call.HoldUntil > now) return CallTransition.Unchanged(call);
            return call.Legs.IsEmpty ? null : Release(call, now, timings);
        }
        if (call.IsEnded) return CallTransition.Unchanged(call);
        if (call.GraceUntil <= now) return Summarise(new Emitter(call), now, timings, legsChanged: false).Done();
        if (call.Legs.IsEmpty && now - call.CreatedAt >= timings.SetupTimeout)
        {
            var emitter = new Emitter(call);
            End(emitter, CallEndReason.SetupTimeout, now);
            return emitter.Done();
        }
        return CallTransition.Unchanged(call);
    }

    /// <summary>The wire name of a state (<c>caller-ringing</c>…).</summary>
    public static string StateName(CallState state) => state switch
    {
        CallState.Requested => "requested",
        CallState.CallerRinging => "caller-ringing",
        CallState.CallerAnswered => "caller-answered",
        CallState.CalleeRinging => "callee-ringing",
        CallState.Connected => "connected",
        CallState.Ended => "ended",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    // ---- internals -----------------------------------------------------------------------------------------------

    private static TrackedCall NewCall(string id, string? callSetupId, DateTimeOffset now) =>
        new() { Id = id, CallSetupId = callSetupId, CreatedAt = now, UpdatedAt = now };

    private static TrackedCall ReplaceLeg(TrackedCall call, TrackedLeg old, TrackedLeg updated) => call with { Legs = call.Legs.Replace(old, updated) };

    private static CallTransition Note(TrackedCall call, string type, DateTimeOffset now, string? reason)
    {
        if (call.IsEnded) return CallTransition.Unchanged(call);
        var emitter = new Emitter(call);
        emitter.Emit(type, now, reason);
        return emitter.Done();
    }

    private static int Rank(ActiveCallDialogState state) => state switch
    {
        ActiveCallDialogState.Confirmed => 2,
        ActiveCallDialogState.Created or ActiveCallDialogState.Requested => 1,
        _ => 0,
    };

    private static LegRole RoleOf(TrackedCall call, ActiveCallItem item)
    {
        if (call.CallSetupId is null) return LegRole.Callee;
        var to = SipUri.AddressOf(item.ToUri);
        if (to is not null && call.From is not null && to == SipUri.AddressOf(call.From)) return LegRole.Caller;
        if (to is not null && call.To is not null && to == SipUri.AddressOf(call.To)) return LegRole.Callee;
        return item.DialogState == ActiveCallDialogState.Requested ? LegRole.Caller : LegRole.Callee;
    }

    /// <summary>Makes a held call visible: <c>call.requested</c> first when the API created it, then its held events.</summary>
    private static CallTransition Release(TrackedCall call, DateTimeOffset now, CallTimings timings)
    {
        if (call.Visible) return CallTransition.Unchanged(call);
        var emitter = new Emitter(call with { Visible = true, HoldUntil = null, OutcomeUnknownSince = null, OutcomeUnknownMisses = 0, Held = [] });
        if (call.RequestedByApi)
        {
            var requested = call.ToResource() with { State = CallState.Requested, EndReason = null, EndedAt = null, Legs = [], UpdatedAt = call.CreatedAt };
            emitter.Publish(new PendingEvent(Requested, call.CreatedAt, requested));
        }
        foreach (var held in call.Held) emitter.Publish(held);
        return Summarise(emitter, now, timings, legsChanged: false).Done();
    }

    /// <summary>Re-summarises the call and emits its new state; when only its legs changed (a leg answered, another one
    /// retracted, while the call as a whole stays where it is) emits <c>call.updated</c>, so clients see every leg's
    /// state without polling.</summary>
    private static Emitter Summarise(Emitter emitter, DateTimeOffset now, CallTimings timings, bool legsChanged, CallEndReason? endedAs = null)
    {
        var call = emitter.Call;
        var (state, reason, graceUntil) = Summary(call, now, timings);
        emitter.Call = call with { GraceUntil = graceUntil };
        if (state == call.State)
        {
            if (legsChanged && state != CallState.Ended) emitter.Emit(Updated, now);
            return emitter;
        }
        if (state == CallState.Ended)
        {
            End(emitter, endedAs ?? reason ?? CallEndReason.Completed, now);
            return emitter;
        }
        emitter.Call = emitter.Call with { State = state, UpdatedAt = now };
        emitter.Emit("call." + StateName(state), now);
        return emitter;
    }

    private static void End(Emitter emitter, CallEndReason reason, DateTimeOffset now)
    {
        emitter.Call = emitter.Call with { State = CallState.Ended, EndReason = reason, EndedAt = now, UpdatedAt = now, GraceUntil = null };
        emitter.Emit(Ended, now);
    }

    private static (CallState State, CallEndReason? Reason, DateTimeOffset? GraceUntil) Summary(TrackedCall call, DateTimeOffset now, CallTimings timings)
    {
        var legs = call.Legs;
        if (legs.IsEmpty) return (CallState.Requested, null, null);
        var live = legs.Where(l => !l.Retracted).ToList();
        if (live.Any(l => l.Role == LegRole.Callee && l.IsAnswered)) return (CallState.Connected, null, null);
        if (live.Any(l => l.Role == LegRole.Callee)) return (CallState.CalleeRinging, null, null);
        if (live.Any(l => l.Role == LegRole.Caller && l.IsAnswered)) return (CallState.CallerAnswered, null, null);
        if (live.Any(l => l.Role == LegRole.Caller)) return (CallState.CallerRinging, null, null);

        if (call.Hangup is { } hangup) return (CallState.Ended, hangup, null);
        if (legs.Any(l => l.Role == LegRole.Callee && l.IsAnswered)) return (CallState.Ended, CallEndReason.Completed, null);
        if (legs.Any(l => l.Role == LegRole.Callee)) return (CallState.Ended, CallEndReason.CalleeNotAnswered, null);
        if (legs.Any(l => l.Role == LegRole.Caller && l.IsAnswered))
        {
            // OnSIP's flow: the answered phone is REFERred to the callee and BYEs the setup dialog, so the setup leg
            // can end before the callee leg appears. Wait a little before calling it a failure.
            var graceUntil = (call.LastRetractAt ?? now) + timings.CalleeLegGrace;
            return now < graceUntil ? (CallState.CallerAnswered, null, graceUntil) : (CallState.Ended, CallEndReason.CalleeNotReached, null);
        }
        return (CallState.Ended, CallEndReason.CallerNotAnswered, null);
    }

    /// <summary>Collects a transition's events: numbered when the call is visible, held otherwise.</summary>
    private sealed class Emitter(TrackedCall call)
    {
        private ImmutableArray<CallEvent>.Builder? _events;

        public TrackedCall Call { get; set; } = call;

        public void Emit(string type, DateTimeOffset now, string? reason = null)
        {
            var pending = new PendingEvent(type, now, Call.ToResource(), reason);
            if (Call.Visible) Publish(pending);
            else Call = Call with { Held = Call.Held.Add(pending) };
        }

        public void Publish(PendingEvent pending)
        {
            var sequence = Call.LastSequence + 1;
            Call = Call with { LastSequence = sequence };
            (_events ??= ImmutableArray.CreateBuilder<CallEvent>()).Add(new CallEvent
            {
                Id = $"{Call.Id}.{sequence}",
                Type = pending.Type,
                Sequence = sequence,
                OccurredAt = pending.OccurredAt,
                Reason = pending.Reason,
                Call = pending.Call with { Id = Call.Id, CallSetupId = Call.CallSetupId },
            });
        }

        public CallTransition Done() => new(Call, _events?.ToImmutable() ?? []);
    }
}
