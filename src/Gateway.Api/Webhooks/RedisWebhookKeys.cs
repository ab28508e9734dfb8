using Gateway.Api.Replicas;
using StackExchange.Redis;

namespace Gateway.Api.Webhooks;

/// <summary>
/// The key names of <see cref="RedisWebhookStore"/>, all under <c>{prefix}webhooks:</c> (<see cref="Base"/>):
/// <list type="bullet">
/// <item><c>subscription:{id}</c> hash: a subscription; <c>subscriptions</c> and <c>owner:{owner}</c> sorted sets of
/// subscription ids scored by creation time (ties in id order).</item>
/// <item><c>delivery:{id}</c> hash: a delivery with its payload and <c>seq</c>, its place in the gateway-wide order
/// (<c>sequence</c>, a counter); <c>log:{subscription}</c> sorted set: every delivery of it by seq (the delivery log);
/// <c>queue:{subscription}</c> sorted set: its pending ones by seq (the FIFO queue, head first).</item>
/// <item><c>events:{subscription}</c> hash: call event id to delivery id, which makes enqueueing idempotent.</item>
/// <item><c>due</c> sorted set: subscriptions with a pending head, scored by its next attempt time; <c>pending</c>
/// sorted set: pending deliveries by creation time (health); <c>completed</c> sorted set: finished deliveries by
/// completion time (retention).</item>
/// <item><c>checkpoint</c> hash: the epoch and position of the call log the queue is complete up to.</item>
/// <item>per-call status callbacks: <c>subscription:cb_{call id}</c> hashes with a <c>call_id</c> field, in neither
/// <c>subscriptions</c> nor <c>owner:{owner}</c> but in the <c>callbacks</c> sorted set (by creation time, for the purge);
/// <c>callback-secret:{owner}</c> hash: the API key's status-callback secret.</item>
/// </list>
/// The scripts (<see cref="RedisWebhookScripts"/>) build the same names in Lua.
/// </summary>
internal sealed class RedisWebhookKeys(RedisConnection redis)
{
    public RedisKey Base { get; } = redis.Key("webhooks:");

    public RedisKey Subscription(string id) => Base.Append("subscription:" + id);

    public RedisKey Subscriptions => Base.Append("subscriptions");

    public RedisKey Owner(string owner) => Base.Append("owner:" + owner);

    public RedisKey Delivery(string id) => Base.Append("delivery:" + id);

    public RedisKey Log(string subscriptionId) => Base.Append("log:" + subscriptionId);

    public RedisKey Pending => Base.Append("pending");

    public RedisKey Checkpoint => Base.Append("checkpoint");

    public RedisKey Callbacks => Base.Append("callbacks");

    public RedisKey CallbackSecret(string owner) => Base.Append("callback-secret:" + owner);
}
