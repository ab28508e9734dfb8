using Gateway.Api.Calls.State;
using Gateway.Api.Commands;

namespace Gateway.Api.Calls.Store;

/// <summary>A call event with its position in the gateway-wide event log (from 1, increasing, never reused).</summary>
public sealed record StoredCallEvent(long Position, CallEvent Event);

/// <summary>The event log's identity and end: cursors are <c>{Epoch}-{position}</c>; a store that forgets its events on
/// restart (in memory) starts a new epoch, a durable one keeps its epoch so cursors stay valid.</summary>
public sealed record CallLogHead(string Epoch, long Position);

/// <summary>What a command intent asks for.</summary>
public enum CommandIntentKind
{
    Hangup,
    Transfer,
}

/// <summary>
/// A command the API answered 202 for and that is carried out until it succeeds or becomes moot (the call ended):
/// written down in the same commit as its <c>call.hangup-requested</c> / <c>call.transfer-requested</c> event.
/// </summary>
public sealed record CommandIntent
{
    public required string Id { get; init; }
    public required string CallId { get; init; }
    public required CommandIntentKind Kind { get; init; }
    /// <summary>Transfer: which party moves.</summary>
    public TransferEndpoint? Endpoint { get; init; }
    /// <summary>Transfer: where to.</summary>
    public string? Target { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public int Attempts { get; init; }
    /// <summary>Not before this time (backoff after a failed attempt).</summary>
    public required DateTimeOffset NextAttemptAt { get; init; }
    public string? LastError { get; init; }
}

/// <summary>A call's revision a commit was worked out from (0: the call did not exist).</summary>
public sealed record CallVersion(string Id, long Version);

/// <summary>Another writer changed a call since it was read: nothing of the commit was applied; read again and redo.</summary>
public sealed class CallCommitConflictException(string callId)
    : Exception($"Call '{callId}' was changed by another writer since it was read.")
{
    public string CallId { get; } = callId;
}

/// <summary>One atomic change: calls written (inserted or replaced, found again by id, by SIP Call-ID of any leg and by
/// item id of any leg), calls removed, events appended to their calls and to the log (in this order), intents written
/// and intents removed; applied only while every call named in <see cref="Expected"/> is still at that revision.</summary>
public sealed record CallCommit
{
    /// <summary>Optimistic concurrency between writers that share a store: the revisions the commit was worked out from.
    /// A store with one writer (in memory, SQLite) has nothing to compare with and may ignore them.</summary>
    public IReadOnlyList<CallVersion> Expected { get; init; } = [];
    public IReadOnlyList<TrackedCall> Calls { get; init; } = [];
    public IReadOnlyList<string> RemovedCalls { get; init; } = [];
    public IReadOnlyList<CallEvent> Events { get; init; } = [];
    public IReadOnlyList<CommandIntent> Intents { get; init; } = [];
    public IReadOnlyList<string> RemovedIntents { get; init; } = [];

    public bool IsEmpty => Calls.Count == 0 && RemovedCalls.Count == 0 && Events.Count == 0 && Intents.Count == 0 && RemovedIntents.Count == 0;
}

/// <summary>Which calls <see cref="ICallStore.ListAsync"/> returns: visible ones, oldest first, after a cursor.</summary>
public sealed record CallQuery
{
    /// <summary>Only calls in this state; null: every state but ended.</summary>
    public CallState? State { get; init; }
    /// <summary>Only calls with a party or leg at this address (<c>user@domain</c>, as <see cref="SipUri.AddressOf"/> gives).</summary>
    public string? Address { get; init; }
    public DateTimeOffset? CreatedAfter { get; init; }
    public DateTimeOffset? CreatedBefore { get; init; }
    public DateTimeOffset? EndedAfter { get; init; }
    public DateTimeOffset? EndedBefore { get; init; }
    /// <summary>The cursor: the <see cref="CallPageResult.Next"/> of the previous page (0 for the first).</summary>
    public long After { get; init; }
    public int Limit { get; init; } = 50;
    /// <summary>Which calls the caller may see (its API key's scope); applied before the page is counted.</summary>
    public Func<CallResource, bool>? Visible { get; init; }
}

public sealed record CallPageResult(IReadOnlyList<CallResource> Items, long? Next);

/// <summary>
/// Where calls, their events, the event log and command intents live. One writer at a time (the
/// <see cref="CallTracker"/>); reads may run concurrently with it. Implementations: <see cref="InMemoryCallStore"/>
/// (bounded, forgets on restart) and <see cref="SqliteCallStore"/> (the default: durable).
/// </summary>
public interface ICallStore
{

    /// <summary>Prepares the store (schema, migrations); returns the log's epoch and last position.</summary>
    ValueTask<CallLogHead> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A call by id, held ones included.</summary>
    ValueTask<TrackedCall?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>The call one of whose legs has this SIP Call-ID.</summary>
    ValueTask<TrackedCall?> FindBySipCallIdAsync(string sipCallId, CancellationToken cancellationToken);

    /// <summary>The call one of whose legs is this PubSub item.</summary>
    ValueTask<TrackedCall?> FindByItemAsync(string itemId, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="commit"/> at once (all or nothing) and returns its events with their log positions.</summary>
    ValueTask<IReadOnlyList<StoredCallEvent>> CommitAsync(CallCommit commit, CancellationToken cancellationToken);

    /// <summary>Every call that is not ended, held ones included (deadlines, reconciliation).</summary>
    ValueTask<IReadOnlyList<TrackedCall>> LiveAsync(CancellationToken cancellationToken);

    ValueTask<CallPageResult> ListAsync(CallQuery query, CancellationToken cancellationToken);

    /// <summary>A call's events after <paramref name="afterSequence"/>, in sequence order.</summary>
    ValueTask<IReadOnlyList<CallEvent>> EventsAsync(string callId, long afterSequence, CancellationToken cancellationToken);

    /// <summary>The log after <paramref name="afterPosition"/>, at most <paramref name="limit"/> events, in order. A durable
    /// store deletes the events of purged calls from it, so positions may have gaps; the in-memory store keeps its
    /// bounded tail as it is.</summary>
    ValueTask<IReadOnlyList<StoredCallEvent>> ReadLogAsync(long afterPosition, int limit, CancellationToken cancellationToken);

    /// <summary>The oldest log position still readable (the head + 1 when the log is empty).</summary>
    ValueTask<long> OldestLogPositionAsync(CancellationToken cancellationToken);

    /// <summary>Every command intent not yet carried out.</summary>
    ValueTask<IReadOnlyList<CommandIntent>> IntentsAsync(CancellationToken cancellationToken);

    /// <summary>Forgets calls that ended before <paramref name="endedBefore"/>, with their events; returns how many.</summary>
    ValueTask<int> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken);
}

/// <summary>A store several replicas write at once: calls carry revisions (<see cref="TrackedCall.Version"/>), commits are
/// checked against <see cref="CallCommit.Expected"/>, and every replica reads the one event log back in position order.</summary>
public interface ISharedCallStore : ICallStore
{
    /// <summary>The live visible-or-held calls and the log position they are as of, read in one atomic step (O(live calls)).</summary>
    ValueTask<(IReadOnlyList<TrackedCall> Live, long Position)> SnapshotAsync(CancellationToken cancellationToken);

    /// <summary>One call (ended or not; null when unknown) and the log position it is as of, read in one atomic step.</summary>
    ValueTask<(TrackedCall? Call, long Position)> SnapshotCallAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every event after <paramref name="afterPosition"/>, in position order, in batches, as they are committed by
    /// any replica; ends only when cancelled.</summary>
    IAsyncEnumerable<IReadOnlyList<StoredCallEvent>> TailAsync(long afterPosition, CancellationToken cancellationToken);
}
