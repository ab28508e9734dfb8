using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Gateway.Api.Tests.Calls.Store.CallFixtures;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Calls.Store;

public sealed class CallDatabaseCheckpointerTests : IAsyncLifetime
{
    private const int PageSize = 4096;
    private readonly FakeTimeProvider _time = new(T0);
    private TempSqliteCallStore _database = null!;

    private SqliteCallStore Store => _database.Store;

    private string DatabasePath => _database.File.Path;

    public async ValueTask InitializeAsync() => _database = await TempSqliteCallStore.OpenAsync("checkpoint", Ct);

    public async ValueTask DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task CommitsLeaveTheLogToTheCheckpointerWhichMovesItIntoTheFile()
    {
        var fileBefore = new FileInfo(DatabasePath).Length;
        // Past SQLite's default of 1,000 pages, at which one of these commits would have copied the log itself.
        // (A checkpoint would start the log over, so it would never grow that far.)
        for (var i = 0; i < 5_000 && new FileInfo(DatabasePath + "-wal").Length < 1_500 * PageSize; i++)
            await Store.CommitAsync(Commit(Creating($"call-{i:D6}", T0)), Ct);
        Assert.True(new FileInfo(DatabasePath + "-wal").Length >= 1_500 * PageSize);
        Assert.Equal(fileBefore, new FileInfo(DatabasePath).Length);

        using var checkpointer = new CallDatabaseCheckpointer(Options.Create(new CallsOptions { DatabasePath = DatabasePath }), _time,
            NullLogger<CallDatabaseCheckpointer>.Instance);
        await checkpointer.StartAsync(Ct);
        try
        {
            while (new FileInfo(DatabasePath).Length == fileBefore)
            {
                _time.Advance(CallDatabaseCheckpointer.Interval);
                await Task.Delay(10, Ct);
            }
        }
        finally
        {
            await checkpointer.StopAsync(Ct);
        }

        Assert.True(new FileInfo(DatabasePath).Length > fileBefore);
        Assert.NotNull(await Store.GetAsync("call-000000", Ct));
    }

    [Fact]
    public async Task ItLeavesAStoreOtherThanSqliteAlone()
    {
        var options = new CallsOptions { Store = CallStoreKind.Memory, DatabasePath = DatabasePath };
        using var checkpointer = new CallDatabaseCheckpointer(Options.Create(options), _time, NullLogger<CallDatabaseCheckpointer>.Instance);

        await checkpointer.StartAsync(Ct);

        // It returns at once instead of checkpointing a file the store does not use (a SQLite store's loop runs until stopped).
        await checkpointer.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await checkpointer.StopAsync(Ct);
    }
}
