namespace Gateway.Api.Tests.Infrastructure;

/// <summary>A SQLite file name in the temp folder; disposing deletes the file, its WAL companions and a lock file beside it.</summary>
public sealed class TempSqliteFile(string prefix) : IAsyncDisposable, IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        foreach (var suffix in new[] { "", "-wal", "-shm", ".lock" }) File.Delete(Path + suffix);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
