using StackExchange.Redis;
using static Gateway.Api.Webhooks.WebhookStoreFormat;

namespace Gateway.Api.Webhooks;

/// <summary>Reads <see cref="RedisWebhookStore"/>'s hashes and script replies into records; a field that is absent is null.</summary>
internal static class RedisWebhookRecords
{
    /// <summary>The subscription in <paramref name="hash"/>, or null when the hash is empty (no such key).</summary>
    public static StoredSubscription? Subscription(HashEntry[] hash)
    {
        if (hash.Length == 0) return null;
        var f = hash.ToDictionary();
        return new StoredSubscription(
            (string)f["id"]!, (string)f["owner"]!, (string)f["url"]!,
            Text(f, "event_types")?.Split(' ', StringSplitOptions.RemoveEmptyEntries), Text(f, "address"), Text(f, "description"),
            (byte[])f["secret"]!, Bytes(f, "previous_secret"), Moment(f, "previous_secret_expires_at"),
            (string?)f["state"] == "enabled" ? WebhookState.Enabled : WebhookState.Disabled, Text(f, "disabled_reason"),
            Time((long)f["created_at"]), Text(f, "call_id"));
    }

    /// <summary>The callback secret in <paramref name="hash"/>, or null when the hash is empty (no such key).</summary>
    public static StoredCallbackSecret? CallbackSecret(string owner, HashEntry[] hash)
    {
        if (hash.Length == 0) return null;
        var f = hash.ToDictionary();
        return new StoredCallbackSecret(owner, (byte[])f["secret"]!, Bytes(f, "previous_secret"), Moment(f, "previous_secret_expires_at"), Time((long)f["created_at"]));
    }

    /// <summary>The delivery in <paramref name="hash"/>, or null when the hash is empty (no such key).</summary>
    public static WebhookDelivery? Delivery(HashEntry[] hash)
    {
        if (hash.Length == 0) return null;
        var f = hash.ToDictionary();
        return new WebhookDelivery
        {
            Id = (string)f["id"]!,
            WebhookId = (string)f["subscription_id"]!,
            MessageId = (string)f["message_id"]!,
            EventId = (string)f["event_id"]!,
            EventType = (string)f["event_type"]!,
            CallId = (string)f["call_id"]!,
            State = ParseState((string)f["state"]!),
            Attempts = (int)f["attempts"],
            LastAttemptAt = Moment(f, "last_attempt_at"),
            LastStatusCode = f.TryGetValue("last_status", out var status) ? (int)status : null,
            LastError = Text(f, "last_error"),
            NextAttemptAt = Moment(f, "next_attempt_at"),
            CreatedAt = Time((long)f["created_at"]),
            CompletedAt = Moment(f, "completed_at"),
            RedeliveryOf = Text(f, "redelivery_of"),
        };
    }

    /// <summary>One entry of <see cref="RedisWebhookScripts.QueueHeads"/>; the previous key only while it still signs.</summary>
    public static QueuedDelivery QueuedDelivery(RedisValue[] v, DateTimeOffset now)
    {
        var previousExpires = v[10].IsNull ? (DateTimeOffset?)null : Time((long)v[10]);
        return new QueuedDelivery((string)v[0]!, (string)v[1]!, (string)v[2]!, (string)v[3]!, (string)v[4]!, (int)v[5], Time((long)v[6]),
            (string)v[7]!, (byte[])v[8]!, previousExpires > now && !v[9].IsNull ? (byte[])v[9]! : null);
    }

    private static string? Text(Dictionary<RedisValue, RedisValue> f, string field) => f.TryGetValue(field, out var v) ? (string?)v : null;

    private static byte[]? Bytes(Dictionary<RedisValue, RedisValue> f, string field) => f.TryGetValue(field, out var v) ? (byte[]?)v : null;

    private static DateTimeOffset? Moment(Dictionary<RedisValue, RedisValue> f, string field) =>
        f.TryGetValue(field, out var v) ? Time((long)v) : null;
}
