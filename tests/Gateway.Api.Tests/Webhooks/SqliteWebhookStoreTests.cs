using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>The store contract on a SQLite file of its own.</summary>
public sealed class SqliteWebhookStoreTests : WebhookStoreContract
{
    private readonly TempSqliteFile _database = new("webhook-store");
    private SqliteWebhookStore? _store;

    protected override IWebhookStore CreateStore() =>
        _store = new SqliteWebhookStore(Options.Create(new WebhookOptions { DatabasePath = _database.Path }), Time, NullLogger<SqliteWebhookStore>.Instance);

    public override ValueTask DisposeAsync()
    {
        _store?.Dispose();
        return _database.DisposeAsync();
    }
}
