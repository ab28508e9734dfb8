using Gateway.Api.Configuration;
using Gateway.Api.Idempotency;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Idempotency;

/// <summary>What every <see cref="IIdempotencyStore"/> does; each implementation's test class runs it (the stores of one
/// replica through <see cref="SingleReplicaIdempotencyStoreContract"/>).</summary>
public abstract class IdempotencyStoreContract : IAsyncLifetime
{
    protected static readonly TimeSpan Ttl = TimeSpan.FromHours(1);

    private IIdempotencyStore? _store;

    protected IIdempotencyStore Store => _store ??= CreateStore();

    protected abstract IIdempotencyStore CreateStore();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        if (_store is IAsyncDisposable disposable) await disposable.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static StoredResponse Response(string body) =>
        new(202, [new("Location", "/calls/" + body), new("Content-Type", "application/json")], System.Text.Encoding.UTF8.GetBytes(body));

    protected static void AssertCompleted(IdempotencyBegin begin, string fingerprint, string body)
    {
        var completed = Assert.IsType<IdempotencyBegin.Completed>(begin);
        Assert.Equal(fingerprint, completed.Fingerprint);
        var expected = Response(body);
        Assert.Equal(expected.StatusCode, completed.Response.StatusCode);
        Assert.Equal(expected.Headers, completed.Response.Headers);
        Assert.Equal(expected.Body, completed.Response.Body);
    }

    [Fact]
    public async Task AFreeKeyIsAcquired() =>
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("k", "fp", Ct));

    [Fact]
    public async Task ASecondRequestWaitsForTheFirstThenReplaysItsResponse()
    {
        await Store.TryBeginAsync("k", "fp", Ct);

        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await Store.TryBeginAsync("k", "other", Ct));
        Assert.Equal("fp", waiting.Fingerprint);
        Assert.False(waiting.Finished.IsCompleted);

        await Store.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);
        await waiting.Finished.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        AssertCompleted(await Store.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    [Fact]
    public async Task ReleaseFreesTheKeyAndWakesTheWaiters()
    {
        await Store.TryBeginAsync("k", "fp", Ct);
        var waiting = Assert.IsType<IdempotencyBegin.InProgress>(await Store.TryBeginAsync("k", "fp", Ct));

        await Store.ReleaseAsync("k", Ct);

        await waiting.Finished.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("k", "fp", Ct));
    }

    [Fact]
    public async Task TheFirstResponseWinsAndAReleaseAfterItChangesNothing()
    {
        await Store.TryBeginAsync("k", "fp", Ct);
        await Store.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        await Store.CompleteAsync("k", "fp", Response("b"), Ttl, Ct);
        await Store.ReleaseAsync("k", Ct);
        await Store.CompleteAsync("unknown", "fp", Response("c"), Ttl, Ct);

        AssertCompleted(await Store.TryBeginAsync("k", "fp", Ct), "fp", "a");
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("unknown", "fp", Ct));
    }
}

/// <summary>
/// What the stores of one replica do besides: their clock is the <see cref="TimeProvider"/> (here a fake the tests move)
/// and they hold at most <see cref="IdempotencyOptions.MaxEntries"/> keys. The Redis store leaves both to Redis (TTLs in
/// its real time, its memory limit); <see cref="RedisIdempotencyStoreTests"/> states its expiry on its own.
/// </summary>
public abstract class SingleReplicaIdempotencyStoreContract : IdempotencyStoreContract
{
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    protected IdempotencyOptions Options { get; } = new();

    [Fact]
    public async Task AResponseExpiresAfterItsTtl()
    {
        await Store.TryBeginAsync("k", "fp", Ct);
        await Store.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        Time.Advance(Ttl - TimeSpan.FromTicks(1));
        AssertCompleted(await Store.TryBeginAsync("k", "fp", Ct), "fp", "a");
        Time.Advance(TimeSpan.FromTicks(1));
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("k", "other", Ct));
    }

    [Fact]
    public async Task WhenFullTheResponsesClosestToExpiryGoFirst()
    {
        Options.MaxEntries = 2;
        await Store.TryBeginAsync("a", "fp", Ct);
        await Store.CompleteAsync("a", "fp", Response("a"), Ttl, Ct);
        await Store.TryBeginAsync("b", "fp", Ct);
        await Store.CompleteAsync("b", "fp", Response("b"), Ttl * 2, Ct);

        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("c", "fp", Ct));
        await Store.CompleteAsync("c", "fp", Response("c"), Ttl * 3, Ct);

        AssertCompleted(await Store.TryBeginAsync("b", "fp", Ct), "fp", "b");
        AssertCompleted(await Store.TryBeginAsync("c", "fp", Ct), "fp", "c");
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("a", "fp", Ct));
    }

    [Fact]
    public async Task KeysInProgressAreNeverEvicted()
    {
        Options.MaxEntries = 1;
        await Store.TryBeginAsync("a", "fp", Ct);

        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("b", "fp", Ct));

        Assert.IsType<IdempotencyBegin.InProgress>(await Store.TryBeginAsync("a", "fp", Ct));
        Assert.IsType<IdempotencyBegin.InProgress>(await Store.TryBeginAsync("b", "fp", Ct));
    }
}

public sealed class InMemoryIdempotencyStoreTests : SingleReplicaIdempotencyStoreContract
{
    protected override IIdempotencyStore CreateStore() => new InMemoryIdempotencyStore(Microsoft.Extensions.Options.Options.Create(Options), Time);
}

public sealed class SqliteIdempotencyStoreTests : SingleReplicaIdempotencyStoreContract
{
    private readonly TempSqliteFile _file = new("idempotency");

    protected override IIdempotencyStore CreateStore() => Open();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _file.DisposeAsync();
    }

    private SqliteIdempotencyStore Open() => new(
        Microsoft.Extensions.Options.Options.Create(new CallsOptions { DatabasePath = _file.Path }),
        Microsoft.Extensions.Options.Options.Create(Options), Time, NullLogger<SqliteIdempotencyStore>.Instance);

    [Fact]
    public async Task ResponsesSurviveReopening()
    {
        await Store.TryBeginAsync("k", "fp", Ct);
        await Store.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);

        await using var reopened = Open();

        AssertCompleted(await reopened.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    [Fact]
    public async Task AKeyInProgressIsClaimedInMemoryWithoutAWrite()
    {
        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("k", "fp", Ct));

        Assert.Equal(0L, await RowCountAsync());
        await using var reopened = Open();
        Assert.IsType<IdempotencyBegin.Acquired>(await reopened.TryBeginAsync("k", "other", Ct));
    }

    [Fact]
    public async Task AKeyAnOlderVersionLeftInProgressInTheFileIsFree()
    {
        await Store.TryBeginAsync("k", "fp", Ct);
        await Store.CompleteAsync("k", "fp", Response("a"), Ttl, Ct);
        await using (var connection = new SqliteConnection($"Data Source={_file.Path};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO idempotency (key, fingerprint, status) VALUES ('left', 'fp', 'in_progress');";
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using var reopened = Open();

        Assert.IsType<IdempotencyBegin.Acquired>(await reopened.TryBeginAsync("left", "other", Ct));
        Assert.Equal(1L, await RowCountAsync());
        AssertCompleted(await reopened.TryBeginAsync("k", "fp", Ct), "fp", "a");
    }

    private async Task<long> RowCountAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={_file.Path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM idempotency;";
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task PurgeDeletesOnlyExpiredResponses()
    {
        await using var store = Open();
        await store.TryBeginAsync("short", "fp", Ct);
        await store.CompleteAsync("short", "fp", Response("s"), Ttl, Ct);
        await store.TryBeginAsync("long", "fp", Ct);
        await store.CompleteAsync("long", "fp", Response("l"), Ttl * 3, Ct);
        await store.TryBeginAsync("running", "fp", Ct);
        Time.Advance(Ttl * 2);

        Assert.Equal(1, await store.PurgeExpiredAsync(Ct));

        AssertCompleted(await store.TryBeginAsync("long", "fp", Ct), "fp", "l");
        Assert.IsType<IdempotencyBegin.InProgress>(await store.TryBeginAsync("running", "fp", Ct));
    }

    [Fact]
    public async Task SharesTheCallsDatabase()
    {
        await using var calls = new Gateway.Api.Calls.Store.SqliteCallStore(
            Microsoft.Extensions.Options.Options.Create(new CallsOptions { DatabasePath = _file.Path }),
            NullLogger<Gateway.Api.Calls.Store.SqliteCallStore>.Instance);
        var head = await calls.OpenAsync(Ct);

        Assert.IsType<IdempotencyBegin.Acquired>(await Store.TryBeginAsync("k", "fp", Ct));
        Assert.Equal(head, await calls.OpenAsync(Ct));
    }
}
