using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>A <see cref="SqliteCallStore"/> open on a temporary file; disposing closes it and deletes the file.</summary>
public sealed class TempSqliteCallStore : IAsyncDisposable
{
    private TempSqliteCallStore(TempSqliteFile file, SqliteCallStore store)
    {
        File = file;
        Store = store;
    }

    public TempSqliteFile File { get; }

    public SqliteCallStore Store { get; }

    public static async Task<TempSqliteCallStore> OpenAsync(string prefix, CancellationToken cancellationToken)
    {
        var file = new TempSqliteFile(prefix);
        var store = new SqliteCallStore(Options.Create(new CallsOptions { DatabasePath = file.Path }), NullLogger<SqliteCallStore>.Instance);
        await store.OpenAsync(cancellationToken);
        return new TempSqliteCallStore(file, store);
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        await File.DisposeAsync();
    }
}
