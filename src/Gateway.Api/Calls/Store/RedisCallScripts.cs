namespace Gateway.Api.Calls.Store;

/// <summary>
/// The Lua scripts of <see cref="RedisCallStore"/>: each runs atomically in Redis, so a commit (revision checks, calls,
/// indexes, log positions, events, intents) is all or nothing and log positions follow commit order exactly. Keys are
/// built from the prefix in ARGV[1]: the store is for one Redis (or a primary with replicas), not Redis Cluster.
/// <list type="bullet">
/// <item><c>call:{id}</c> hash: <c>j</c> the call's JSON, <c>v</c> its revision, <c>o</c> its insertion number,
/// <c>x</c> its index entries; <c>calls:live</c> set, <c>calls:order</c> and <c>calls:ended</c> sorted sets.</item>
/// <item><c>idx:item</c> / <c>idx:sip</c> hashes: PubSub item id / SIP Call-ID → call id.</item>
/// <item><c>events:{id}</c> list of <c>{position}|{json}</c>; <c>log</c> stream with ids <c>{position}-0</c>;
/// <c>log:position</c> the last position; <c>log:epoch</c>; <c>log:bell</c> the channel rung after each commit.</item>
/// <item><c>intents</c> hash: intent id → JSON.</item>
/// </list>
/// </summary>
internal static class RedisCallScripts
{
    /// <summary>ARGV[2]: the commit as JSON (expect, removed, calls, events, intents, removedIntents). Returns the events'
    /// positions, or the error <c>CONFLICT {id}</c> when a call is no longer at its expected revision.</summary>
    public const string Commit = """
        local p = ARGV[1]
        local c = cjson.decode(ARGV[2])
        for _, e in ipairs(c.expect) do
          local v = redis.call('HGET', p .. 'call:' .. e.id, 'v')
          if (v and tonumber(v) or 0) ~= e.v then return redis.error_reply('CONFLICT ' .. e.id) end
        end
        local function unindex(id)
          local x = redis.call('HGET', p .. 'call:' .. id, 'x')
          if not x then return end
          for _, entry in ipairs(cjson.decode(x)) do
            local index = p .. 'idx:' .. entry[1]
            if redis.call('HGET', index, entry[2]) == id then redis.call('HDEL', index, entry[2]) end
          end
        end
        for _, id in ipairs(c.removed) do
          unindex(id)
          redis.call('DEL', p .. 'call:' .. id, p .. 'events:' .. id)
          redis.call('SREM', p .. 'calls:live', id)
          redis.call('ZREM', p .. 'calls:order', id)
          redis.call('ZREM', p .. 'calls:ended', id)
        end
        for _, call in ipairs(c.calls) do
          local key = p .. 'call:' .. call.id
          unindex(call.id)
          if redis.call('HINCRBY', key, 'v', 1) == 1 then
            local order = redis.call('INCR', p .. 'calls:next-order')
            redis.call('HSET', key, 'o', order)
            redis.call('ZADD', p .. 'calls:order', order, call.id)
          end
          redis.call('HSET', key, 'j', call.j, 'x', cjson.encode(call.x))
          for _, entry in ipairs(call.x) do
            -- An item id points at the call that wrote it last; a SIP Call-ID at the first call that claimed it.
            if entry[1] == 'item' then redis.call('HSET', p .. 'idx:item', entry[2], call.id)
            else redis.call('HSETNX', p .. 'idx:sip', entry[2], call.id) end
          end
          if call.ended >= 0 then
            redis.call('SREM', p .. 'calls:live', call.id)
            redis.call('ZADD', p .. 'calls:ended', call.ended, call.id)
          else
            redis.call('SADD', p .. 'calls:live', call.id)
            redis.call('ZREM', p .. 'calls:ended', call.id)
          end
        end
        local positions = {}
        for i, e in ipairs(c.events) do
          local position = redis.call('INCR', p .. 'log:position')
          redis.call('XADD', p .. 'log', position .. '-0', 'e', e.j)
          if redis.call('EXISTS', p .. 'call:' .. e.call) == 1 then
            redis.call('RPUSH', p .. 'events:' .. e.call, position .. '|' .. e.j)
          end
          positions[i] = position
        end
        for _, id in ipairs(c.removedIntents) do redis.call('HDEL', p .. 'intents', id) end
        for _, intent in ipairs(c.intents) do redis.call('HSET', p .. 'intents', intent.id, intent.j) end
        if #positions > 0 then redis.call('PUBLISH', p .. 'log:bell', positions[#positions]) end
        return positions
        """;

    /// <summary>ARGV[2]: index name (<c>item</c> or <c>sip</c>), ARGV[3]: key. Returns the call's JSON and revision, or nil.</summary>
    public const string FindByIndex = """
        local p = ARGV[1]
        local id = redis.call('HGET', p .. 'idx:' .. ARGV[2], ARGV[3])
        if not id then return nil end
        local found = redis.call('HMGET', p .. 'call:' .. id, 'j', 'v')
        if not found[1] then return nil end
        return found
        """;

    /// <summary>Every live call's JSON and revision, then the log position, read in one step.</summary>
    public const string Snapshot = """
        local p = ARGV[1]
        local result = {}
        for _, id in ipairs(redis.call('SMEMBERS', p .. 'calls:live')) do
          local found = redis.call('HMGET', p .. 'call:' .. id, 'j', 'v')
          if found[1] then
            result[#result + 1] = found[1]
            result[#result + 1] = found[2]
          end
        end
        result[#result + 1] = redis.call('GET', p .. 'log:position') or '0'
        return result
        """;

    /// <summary>ARGV[2]: a call id. Returns its JSON and revision (nil, nil when unknown), then the log position.</summary>
    public const string SnapshotCall = """
        local p = ARGV[1]
        local found = redis.call('HMGET', p .. 'call:' .. ARGV[2], 'j', 'v')
        return {found[1] or '', found[2] or '0', redis.call('GET', p .. 'log:position') or '0'}
        """;

    /// <summary>ARGV[2]: ended before (unix ms), ARGV[3]: batch size. Forgets up to a batch of calls that ended before
    /// then, with their events (in their lists and in the log) and index entries; returns how many.</summary>
    public const string Purge = """
        local p = ARGV[1]
        local ids = redis.call('ZRANGEBYSCORE', p .. 'calls:ended', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
        for _, id in ipairs(ids) do
          local key = p .. 'call:' .. id
          local x = redis.call('HGET', key, 'x')
          if x then
            for _, entry in ipairs(cjson.decode(x)) do
              local index = p .. 'idx:' .. entry[1]
              if redis.call('HGET', index, entry[2]) == id then redis.call('HDEL', index, entry[2]) end
            end
          end
          for _, e in ipairs(redis.call('LRANGE', p .. 'events:' .. id, 0, -1)) do
            redis.call('XDEL', p .. 'log', string.sub(e, 1, string.find(e, '|', 1, true) - 1) .. '-0')
          end
          redis.call('DEL', key, p .. 'events:' .. id)
          redis.call('ZREM', p .. 'calls:ended', id)
          redis.call('ZREM', p .. 'calls:order', id)
        end
        return #ids
        """;
}
