using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Calls.Benchmarks;

public enum StoreKind
{
    Memory,
    Sqlite,
}

/// <summary>Counts every event the publisher hands it: the one consumer, so publication is part of what is timed.</summary>
internal sealed class CountingConsumer : ICallEventConsumer
{
    private long _count;

    public string Name => "bench-counter";

    public long Count => Interlocked.Read(ref _count);

    public ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _count, batch.Count);
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until <paramref name="expected"/> events were handled (the queue drained).</summary>
    public async Task WaitForAsync(long expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (Count < expected)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the consumer has {Count} of {expected} events");
            await Task.Delay(5);
        }
        if (Count != expected) throw new InvalidOperationException($"the consumer has {Count} events, {expected} expected");
    }
}

/// <summary>
/// A started <see cref="CallTracker"/> outside the host (as tests/Gateway.Api.Tests/Infrastructure/TestCalls.cs builds
/// it): the store, the publisher with a <see cref="CountingConsumer"/>, the system clock, loggers that discard. Its
/// calls are plain ones (a SIP Call-ID, no call-setup-id), so each is visible on its first leg.
/// </summary>
internal sealed class TrackedCalls : IAsyncDisposable
{
    public const string Node = "bench-node";
    private static readonly DateTimeOffset BasePublishTime = new(2026, 11, 27, 0, 0, 0, TimeSpan.Zero);

    private readonly string _prefix;
    private readonly CallEventPublisher _publisher;
    private long _publishSequence;

    private TrackedCalls(StoreKind kind, ICallStore store, string? databaseFolder, string prefix, CallsOptions options)
    {
        Kind = kind;
        Store = store;
        DatabaseFolder = databaseFolder;
        _prefix = prefix;
        _publisher = new CallEventPublisher([Events], new PublishedHead(), NullLogger<CallEventPublisher>.Instance);
        Tracker = new CallTracker(store, _publisher, new SingleReplicaLeadership("benchmark"), Options.Create(options), Options.Create(new HttpApiOptions()),
            TimeProvider.System, NullLogger<CallTracker>.Instance);
    }

    public StoreKind Kind { get; }
    public ICallStore Store { get; }
    public CallTracker Tracker { get; }
    public CountingConsumer Events { get; } = new();
    public string? DatabaseFolder { get; }

    /// <summary>A started tracker on a new store: in memory bounded by <paramref name="maxCalls"/>, or SQLite on a
    /// file in a new temp folder (deleted on dispose).</summary>
    public static async Task<TrackedCalls> StartAsync(StoreKind kind, int maxCalls, string prefix)
    {
        string? folder = null;
        var options = new CallsOptions { Store = kind == StoreKind.Memory ? CallStoreKind.Memory : CallStoreKind.Sqlite, MaxCalls = maxCalls };
        ICallStore store;
        if (kind == StoreKind.Memory)
        {
            store = new InMemoryCallStore(Options.Create(options), NullLogger<InMemoryCallStore>.Instance);
        }
        else
        {
            folder = Path.Combine(Path.GetTempPath(), "calls-bench-" + Guid.NewGuid().ToString("N")[..10]);
            options.DatabasePath = Path.Combine(folder, "calls.db");
            store = new SqliteCallStore(Options.Create(options), NullLogger<SqliteCallStore>.Instance);
        }
        var calls = new TrackedCalls(kind, store, folder, prefix, options);
        await calls.Tracker.StartAsync(CancellationToken.None);
        return calls;
    }

    public string SipCallId(int call) => $"{_prefix}-{call:D7}@pbx.example.com";

    public string ItemId(int call) => $"{_prefix}-item-{call:D7}";

    public string CallId(int call) => CallStateMachine.PlainCallId(SipCallId(call));

    /// <summary>The first leg of call <paramref name="call"/>: an inbound call ringing a phone (the call becomes
    /// <c>callee-ringing</c>, one event).</summary>
    public ActiveCallItem Ringing(int call) => new()
    {
        DialogState = ActiveCallDialogState.Requested,
        CallId = SipCallId(call),
        FromUri = $"sip:caller{call % 5000}@example.org",
        ToUri = $"sip:user{call % 1000}@example.com",
        ToAor = $"user{call % 1000}@example.com",
        FromTag = $"ft{call}",
        Branch = $"z9hG4bK{call}",
        FromDisplay = "Caller",
        PublishTime = BasePublishTime,
    };

    /// <summary>Inserts call <paramref name="call"/> through the tracker's real input path.</summary>
    public Task InsertAsync(int call) => Tracker.ApplyPublishedAsync(Ringing(call), ItemId(call), Node);

    /// <summary>The leg of call <paramref name="call"/> published again, answered, with a newer publish time: one event
    /// (<c>call.connected</c> the first time, <c>call.updated</c> after that).</summary>
    public ActiveCallItem Answered(int call) => Ringing(call) with
    {
        DialogState = ActiveCallDialogState.Confirmed,
        ToTag = $"tt{call}",
        PublishTime = BasePublishTime + TimeSpan.FromMilliseconds(Interlocked.Increment(ref _publishSequence)),
    };

    /// <summary>Bytes of the database file and its WAL after a checkpoint that truncates the WAL.</summary>
    public async Task<long> DatabaseBytesAsync()
    {
        if (DatabaseFolder is null) return 0;
        var path = Path.Combine(DatabaseFolder, "calls.db");
        await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            await command.ExecuteNonQueryAsync();
        }
        return Directory.EnumerateFiles(DatabaseFolder).Sum(f => new FileInfo(f).Length);
    }

    public async ValueTask DisposeAsync()
    {
        await Tracker.StopAsync(CancellationToken.None);
        await Tracker.DisposeAsync();
        await _publisher.DisposeAsync();
        if (Store is IAsyncDisposable disposable) await disposable.DisposeAsync();
        if (DatabaseFolder is not null && Directory.Exists(DatabaseFolder)) Directory.Delete(DatabaseFolder, recursive: true);
    }
}
