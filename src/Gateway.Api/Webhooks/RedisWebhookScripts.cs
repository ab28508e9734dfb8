namespace Gateway.Api.Webhooks;

/// <summary>
/// The Lua scripts of <see cref="RedisWebhookStore"/>: every change that touches more than one key runs as one script,
/// so Redis applies it whole or not at all and no replica ever sees half of it. Each takes the store's key base
/// (<c>{prefix}webhooks:</c>) as KEYS[1] and builds the other key names from it, as <see cref="RedisWebhookKeys"/> does;
/// an empty string stands for a null argument.
/// </summary>
internal static class RedisWebhookScripts
{
    // Helpers every script starts with. due holds each enabled subscription with a pending delivery, scored by the
    // next attempt time of its queue's head, so the dispatcher reads only the queues it has something to do for.
    private const string Prelude =
        """
        local base = KEYS[1]
        local function refresh_due(sub)
          local head = redis.call('ZRANGE', base .. 'queue:' .. sub, 0, 0)[1]
          if head and redis.call('HGET', base .. 'subscription:' .. sub, 'state') == 'enabled' then
            redis.call('ZADD', base .. 'due', redis.call('HGET', base .. 'delivery:' .. head, 'next_attempt_at'), sub)
          else
            redis.call('ZREM', base .. 'due', sub)
          end
        end
        local function set_or_clear(key, field, value)
          if value == '' then redis.call('HDEL', key, field) else redis.call('HSET', key, field, value) end
        end
        local function finish(id, sub, at)
          redis.call('HSET', base .. 'delivery:' .. id, 'completed_at', at)
          redis.call('ZREM', base .. 'queue:' .. sub, id)
          redis.call('ZREM', base .. 'pending', id)
          redis.call('ZADD', base .. 'completed', at, id)
        end
        local function add_pending(id, sub, now, fields)
          local seq = redis.call('INCR', base .. 'sequence')
          redis.call('HSET', base .. 'delivery:' .. id, 'id', id, 'subscription_id', sub, 'state', 'pending', 'attempts', 0,
            'next_attempt_at', now, 'created_at', now, 'seq', seq, unpack(fields))
          redis.call('ZADD', base .. 'log:' .. sub, seq, id)
          redis.call('ZADD', base .. 'queue:' .. sub, seq, id)
          redis.call('ZADD', base .. 'pending', now, id)
        end

        """;

    /// <summary>ARGV: now, checkpoint epoch, checkpoint position, the error text before a disabled subscription's reason,
    /// then per delivery: id, subscription, message id, event id, event type, call id, payload. The events hash of a
    /// subscription maps each event id to its delivery: an event already there is skipped (idempotent enqueue), as is a
    /// subscription deleted meanwhile; a subscription disabled meanwhile gets the delivery as failed, unsent (as its
    /// pending ones were failed when it was disabled).</summary>
    public const string Enqueue = Prelude +
        """
        local now = ARGV[1]
        local touched = {}
        for i = 5, #ARGV, 7 do
          local id, sub, event = ARGV[i], ARGV[i + 1], ARGV[i + 3]
          local subscription = base .. 'subscription:' .. sub
          if redis.call('EXISTS', subscription) == 1 and redis.call('HSETNX', base .. 'events:' .. sub, event, id) == 1 then
            add_pending(id, sub, now, { 'message_id', ARGV[i + 2], 'event_id', event, 'event_type', ARGV[i + 4], 'call_id', ARGV[i + 5],
              'payload', ARGV[i + 6] })
            if redis.call('HGET', subscription, 'state') == 'disabled' then
              local reason = redis.call('HGET', subscription, 'disabled_reason') or ''
              redis.call('HSET', base .. 'delivery:' .. id, 'state', 'failed', 'last_error', ARGV[4] .. reason .. ')')
              redis.call('HDEL', base .. 'delivery:' .. id, 'next_attempt_at')
              finish(id, sub, now)
            end
            touched[sub] = true
          end
        end
        for sub in pairs(touched) do refresh_due(sub) end
        local checkpoint = base .. 'checkpoint'
        if redis.call('HGET', checkpoint, 'epoch') ~= ARGV[2] or tonumber(redis.call('HGET', checkpoint, 'position')) < tonumber(ARGV[3]) then
          redis.call('HSET', checkpoint, 'epoch', ARGV[2], 'position', ARGV[3])
        end
        return 1
        """;

    /// <summary>ARGV: delivery id, at, status, error, state, next attempt, disable reason, the error of the deliveries
    /// failed with a disabled subscription. Returns 0 when the delivery is gone or no longer pending.</summary>
    public const string RecordAttempt = Prelude +
        """
        local id, at = ARGV[1], ARGV[2]
        local key = base .. 'delivery:' .. id
        if redis.call('HGET', key, 'state') ~= 'pending' then return 0 end
        local sub = redis.call('HGET', key, 'subscription_id')
        redis.call('HINCRBY', key, 'attempts', 1)
        redis.call('HSET', key, 'last_attempt_at', at, 'state', ARGV[5])
        set_or_clear(key, 'last_status', ARGV[3])
        set_or_clear(key, 'last_error', ARGV[4])
        set_or_clear(key, 'next_attempt_at', ARGV[6])
        if ARGV[5] ~= 'pending' then finish(id, sub, at) end
        if ARGV[7] ~= '' then
          redis.call('HSET', base .. 'subscription:' .. sub, 'state', 'disabled', 'disabled_reason', ARGV[7])
          for _, other in ipairs(redis.call('ZRANGE', base .. 'queue:' .. sub, 0, -1)) do
            redis.call('HSET', base .. 'delivery:' .. other, 'state', 'failed', 'last_error', ARGV[8])
            redis.call('HDEL', base .. 'delivery:' .. other, 'next_attempt_at')
            finish(other, sub, at)
          end
        end
        refresh_due(sub)
        return 1
        """;

    /// <summary>ARGV: subscription id, delivery id, now, the id of a copy. Returns { outcome, carrier id }.</summary>
    public const string Redeliver = Prelude +
        """
        local sub, id, now = ARGV[1], ARGV[2], ARGV[3]
        local key = base .. 'delivery:' .. id
        if redis.call('HGET', key, 'subscription_id') ~= sub then return { 'not-found' } end
        if redis.call('HGET', base .. 'subscription:' .. sub, 'state') ~= 'enabled' then return { 'disabled' } end
        if redis.call('HGET', key, 'state') == 'pending' then
          -- Due now together with everything queued before it, so the queue's order is kept.
          for _, earlier in ipairs(redis.call('ZRANGEBYSCORE', base .. 'queue:' .. sub, '-inf', redis.call('HGET', key, 'seq'))) do
            local other = base .. 'delivery:' .. earlier
            if tonumber(redis.call('HGET', other, 'next_attempt_at')) > tonumber(now) then redis.call('HSET', other, 'next_attempt_at', now) end
          end
          refresh_due(sub)
          return { 'rescheduled', id }
        end
        local f = redis.call('HMGET', key, 'message_id', 'event_id', 'event_type', 'call_id', 'payload')
        add_pending(ARGV[4], sub, now, { 'message_id', f[1], 'event_id', f[2], 'event_type', f[3], 'call_id', f[4], 'payload', f[5],
          'redelivery_of', id })
        refresh_due(sub)
        return { 'enqueued', ARGV[4] }
        """;

    /// <summary>ARGV: subscription id, owner. Returns 0 when there is no such subscription of that owner.</summary>
    public const string DeleteSubscription = Prelude +
        """
        local sub, owner = ARGV[1], ARGV[2]
        if redis.call('HGET', base .. 'subscription:' .. sub, 'owner') ~= owner then return 0 end
        if redis.call('HEXISTS', base .. 'subscription:' .. sub, 'call_id') == 1 then return 0 end
        for _, id in ipairs(redis.call('ZRANGE', base .. 'log:' .. sub, 0, -1)) do
          redis.call('DEL', base .. 'delivery:' .. id)
          redis.call('ZREM', base .. 'pending', id)
          redis.call('ZREM', base .. 'completed', id)
        end
        redis.call('DEL', base .. 'subscription:' .. sub, base .. 'log:' .. sub, base .. 'queue:' .. sub, base .. 'events:' .. sub)
        redis.call('ZREM', base .. 'subscriptions', sub)
        redis.call('ZREM', base .. 'owner:' .. owner, sub)
        redis.call('ZREM', base .. 'due', sub)
        return 1
        """;

    /// <summary>ARGV: subscription id, owner, new key, previous key's expiry. Returns 0 when not that owner's.</summary>
    public const string RotateKey = Prelude +
        """
        local key = base .. 'subscription:' .. ARGV[1]
        if redis.call('HGET', key, 'owner') ~= ARGV[2] or redis.call('HEXISTS', key, 'call_id') == 1 then return 0 end
        redis.call('HSET', key, 'previous_secret', redis.call('HGET', key, 'secret'), 'previous_secret_expires_at', ARGV[4], 'secret', ARGV[3])
        return 1
        """;

    /// <summary>ARGV: owner, new key, now, previous key's expiry. Creates or rotates the owner's callback secret.</summary>
    public const string SetCallbackSecret =
        """
        local key = KEYS[1] .. 'callback-secret:' .. ARGV[1]
        local old = redis.call('HGET', key, 'secret')
        if old then
          redis.call('HSET', key, 'previous_secret', old, 'previous_secret_expires_at', ARGV[4])
        end
        redis.call('HSET', key, 'secret', ARGV[2], 'created_at', ARGV[3])
        return 1
        """;

    /// <summary>ARGV: completed before (exclusive), at most how many. Returns how many were deleted. The event's entry
    /// in the idempotency hash goes with the original delivery, as the SQLite store's row does. Status callbacks created
    /// before it with no delivery left go too (not counted).</summary>
    public const string Purge = Prelude +
        """
        local ids = redis.call('ZRANGEBYSCORE', base .. 'completed', '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
        for _, id in ipairs(ids) do
          local key = base .. 'delivery:' .. id
          local f = redis.call('HMGET', key, 'subscription_id', 'event_id')
          if f[1] then
            redis.call('ZREM', base .. 'log:' .. f[1], id)
            if redis.call('HGET', base .. 'events:' .. f[1], f[2]) == id then redis.call('HDEL', base .. 'events:' .. f[1], f[2]) end
          end
          redis.call('DEL', key)
          redis.call('ZREM', base .. 'completed', id)
        end
        for _, sub in ipairs(redis.call('ZRANGEBYSCORE', base .. 'callbacks', '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])) do
          if redis.call('ZCARD', base .. 'log:' .. sub) == 0 then
            redis.call('DEL', base .. 'subscription:' .. sub, base .. 'log:' .. sub, base .. 'queue:' .. sub, base .. 'events:' .. sub)
            redis.call('ZREM', base .. 'callbacks', sub)
            redis.call('ZREM', base .. 'due', sub)
          end
        end
        return #ids
        """;

    /// <summary>Returns per due subscription, soonest first: its head's id, subscription id, message id, event type,
    /// payload, attempts, next attempt; the subscription's url, secret, previous secret and its expiry (for a status
    /// callback those of its owner's callback secret; without one, the head is left out).</summary>
    public const string QueueHeads = Prelude +
        """
        local heads = {}
        for _, sub in ipairs(redis.call('ZRANGE', base .. 'due', 0, -1)) do
          local head = redis.call('ZRANGE', base .. 'queue:' .. sub, 0, 0)[1]
          if head then
            local d = redis.call('HMGET', base .. 'delivery:' .. head, 'id', 'subscription_id', 'message_id', 'event_type', 'payload', 'attempts', 'next_attempt_at')
            local s = redis.call('HMGET', base .. 'subscription:' .. sub, 'url', 'secret', 'previous_secret', 'previous_secret_expires_at', 'call_id', 'owner')
            if s[5] then
              local c = redis.call('HMGET', base .. 'callback-secret:' .. s[6], 'secret', 'previous_secret', 'previous_secret_expires_at')
              s[2], s[3], s[4] = c[1], c[2], c[3]
            end
            if s[2] then heads[#heads + 1] = { d[1], d[2], d[3], d[4], d[5], d[6], d[7], s[1], s[2], s[3], s[4] } end
          end
        end
        return heads
        """;
}
