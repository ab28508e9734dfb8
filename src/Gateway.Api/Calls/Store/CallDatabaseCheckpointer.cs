using Gateway.Api.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using static Gateway.Api.Calls.Store.CallDatabase;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// Moves the calls database's write-ahead log into the file in the background, so no commit does. Left to SQLite, the
/// commit that takes the log past <c>wal_autocheckpoint</c> pages copies them all and syncs the file before it returns:
/// every forty-odd creates, one request or one call event waited for that, under the call tracker's gate. Here a
/// <c>PASSIVE</c> checkpoint runs every <see cref="Interval"/> on a connection of its own: it waits for no reader and
/// no writer, and a commit meanwhile appends to the log as usual (the next writer after a full checkpoint starts the
/// log over). Should this service stall, the writers' own checkpoint still bounds the log
/// (<see cref="CallDatabase.AutoCheckpointPages"/>).
/// </summary>
internal sealed class CallDatabaseCheckpointer(IOptions<CallsOptions> options, TimeProvider time, ILogger<CallDatabaseCheckpointer> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly CallsOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Store != CallStoreKind.Sqlite) return;
        SqliteConnection? connection = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Interval, time, stoppingToken);
                // The stores create and migrate the file as they open; until one has, there is nothing to checkpoint.
                if (connection is null && !File.Exists(_options.DatabasePath)) continue;
                try
                {
                    connection ??= await OpenConnectionAsync(_options.DatabasePath, stoppingToken);
                    await CheckpointAsync(connection, stoppingToken);
                }
                catch (Exception e) when (e is SqliteException or IOException)
                {
                    logger.LogWarning(e, "Checkpointing the calls database {Path} failed; trying again in {Interval}", _options.DatabasePath, Interval);
                    if (connection is not null) await connection.DisposeAsync();
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    /// <summary>One passive checkpoint; returns the log's frames and how many of them are now in the file.</summary>
    public static async Task<(long LogFrames, long Checkpointed)> CheckpointAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, "PRAGMA wal_checkpoint(PASSIVE);");
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        return await row.ReadAsync(cancellationToken) ? (row.GetInt64(1), row.GetInt64(2)) : (0, 0);
    }
}
