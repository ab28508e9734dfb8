using Microsoft.Data.Sqlite;

namespace Gateway.Api.Webhooks;

/// <summary>The webhook database's schema, created or migrated on first use (<c>PRAGMA user_version</c>), each step in
/// its own transaction.</summary>
internal static class SqliteWebhookSchema
{
    private const int SchemaVersion = 4;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            url TEXT NOT NULL,
            event_types TEXT NULL,
            address TEXT NULL,
            description TEXT NULL,
            secret BLOB NOT NULL,
            previous_secret BLOB NULL,
            previous_secret_expires_at INTEGER NULL,
            state TEXT NOT NULL,
            disabled_reason TEXT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX subscriptions_by_owner ON subscriptions (owner, created_at);
        CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            message_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            call_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            redelivery_of TEXT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NULL,
            last_attempt_at INTEGER NULL,
            last_status INTEGER NULL,
            last_error TEXT NULL,
            created_at INTEGER NOT NULL,
            completed_at INTEGER NULL
        );
        CREATE INDEX deliveries_log ON deliveries (subscription_id, seq);
        CREATE INDEX deliveries_pending ON deliveries (subscription_id, seq) WHERE state = 'pending';
        CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at IS NOT NULL;
        """,
        // Where in the call store's event log the queue is complete up to: a restart replays the events after it.
        """
        CREATE TABLE event_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            epoch TEXT NOT NULL,
            position INTEGER NOT NULL
        );
        """,
        // Enqueueing is idempotent per (subscription, event): replaying the log after a take-over looks an event up here.
        """
        CREATE INDEX deliveries_by_event ON deliveries (subscription_id, event_id);
        """,
        // Per-call status callbacks: a subscription with the call's id (found by its id, cb_ + call id), signed with
        // its owner's callback secret.
        """
        ALTER TABLE subscriptions ADD COLUMN call_id TEXT NULL;
        CREATE INDEX subscriptions_callbacks ON subscriptions (created_at) WHERE call_id IS NOT NULL;
        CREATE TABLE callback_secrets (
            owner TEXT PRIMARY KEY,
            secret BLOB NOT NULL,
            previous_secret BLOB NULL,
            previous_secret_expires_at INTEGER NULL,
            created_at INTEGER NOT NULL
        );
        """,
    ];

    public static async Task MigrateAsync(SqliteConnection connection, string path, ILogger logger, CancellationToken cancellationToken)
    {
        var version = Convert.ToInt32(await SqliteWebhookStore.ScalarAsync(connection, null, "PRAGMA user_version;", cancellationToken),
            System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
            throw new InvalidOperationException($"The webhook database {path} has schema version {version}; this gateway knows up to {SchemaVersion}.");
        for (var next = version; next < SchemaVersion; next++)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await SqliteWebhookStore.ExecuteAsync(connection, transaction, Migrations[next], cancellationToken);
            await SqliteWebhookStore.ExecuteAsync(connection, transaction, $"PRAGMA user_version = {next + 1};", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            logger.LogInformation("Webhook database {Path} migrated to schema version {Version}", path, next + 1);
        }
    }
}
