using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

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

    [Fact]
    public async Task AFileOfSchemaVersion3KeepsItsSubscriptionsAndQueueAndGainsStatusCallbacks()
    {
        // A webhook database as the gateway before status callbacks left it: one subscription, one pending delivery.
        await using var file = new TempSqliteFile("webhook-store-v3");
        await using (var connection = new SqliteConnection($"Data Source={file.Path}"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText =
                """
                CREATE TABLE subscriptions (id TEXT PRIMARY KEY, owner TEXT NOT NULL, url TEXT NOT NULL, event_types TEXT NULL, address TEXT NULL,
                    description TEXT NULL, secret BLOB NOT NULL, previous_secret BLOB NULL, previous_secret_expires_at INTEGER NULL, state TEXT NOT NULL,
                    disabled_reason TEXT NULL, created_at INTEGER NOT NULL);
                CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE, message_id TEXT NOT NULL, event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL, call_id TEXT NOT NULL, payload TEXT NOT NULL, redelivery_of TEXT NULL, state TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NULL, last_attempt_at INTEGER NULL, last_status INTEGER NULL,
                    last_error TEXT NULL, created_at INTEGER NOT NULL, completed_at INTEGER NULL);
                CREATE TABLE event_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, position INTEGER NOT NULL);
                INSERT INTO subscriptions VALUES ('wh_old', 'key', 'https://hooks.example/', NULL, NULL, NULL, x'0102', NULL, NULL, 'enabled', NULL, 1000);
                INSERT INTO deliveries (id, subscription_id, message_id, event_id, event_type, call_id, payload, state, next_attempt_at, created_at)
                    VALUES ('dlv_old', 'wh_old', 'msg_old', 'call1.1', 'call.connected', 'call1', '{}', 'pending', 1000, 1000);
                PRAGMA user_version = 3;
                """;
            await command.ExecuteNonQueryAsync(Ct);
        }
        SqliteConnection.ClearAllPools();

        using var store = new SqliteWebhookStore(Options.Create(new WebhookOptions { DatabasePath = file.Path }), Time, NullLogger<SqliteWebhookStore>.Instance);
        await store.InitializeAsync(Ct);

        Assert.Equal(["wh_old"], (await store.ListSubscriptionsAsync("key", Ct)).Select(s => s.Id));
        Assert.Equal(["dlv_old"], (await store.QueueHeadsAsync(Ct)).Select(h => h.Id));
        var callback = await store.EnsureCallCallbackAsync("key", "call2", "https://hooks.example/call2", null, Ct);
        Assert.Equal(callback.Id, Assert.Single(await store.CallCallbacksAsync(["call2"], Ct)).Id);
        Assert.Equal(["wh_old"], (await store.EnabledSubscriptionsAsync(Ct)).Select(s => s.Id));
    }
}
