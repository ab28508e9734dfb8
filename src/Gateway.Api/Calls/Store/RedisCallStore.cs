using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gateway.Api.Calls.State;
using Gateway.Api.Replicas;
using StackExchange.Redis;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// Calls, their events, the event log and command intents in one Redis that every replica shares (the layout and the
/// atomic scripts are in <see cref="RedisCallScripts"/>). Writers check revisions (<see cref="CallCommit.Expected"/>),
/// so replicas never overwrite each other's changes; log positions come from one counter in the commit script, so the
/// log is gap-free in commit order and a cursor means the same on every replica. Each commit rings a pub/sub channel;
/// <see cref="TailAsync"/> reads the log after every ring, and every second in case a ring was lost.
/// </summary>
public sealed class RedisCallStore(RedisConnection redis, ILogger<RedisCallStore> logger) : ISharedCallStore
{
    private const int ListBatch = 200;
    private const int TailBatch = 512;
    private static readonly TimeSpan TailPoll = TimeSpan.FromSeconds(1);

    private RedisValue Prefix => redis.Prefix;

    public async ValueTask<CallLogHead> OpenAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        // The first replica ever names the log; every later one (and every restart) keeps that name, so cursors stay valid.
        await db.StringSetAsync(redis.Key("log:epoch"), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5)), when: When.NotExists);
        var values = await db.StringGetAsync([redis.Key("log:epoch"), redis.Key("log:position")]);
        return new CallLogHead((string)values[0]!, values[1].IsNull ? 0 : (long)values[1]);
    }

    public async ValueTask<TrackedCall?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        return Read(await db.HashGetAsync(CallKey(id), ["j", "v"]));
    }

    public ValueTask<TrackedCall?> FindBySipCallIdAsync(string sipCallId, CancellationToken cancellationToken) => FindByIndexAsync("sip", sipCallId);

    public ValueTask<TrackedCall?> FindByItemAsync(string itemId, CancellationToken cancellationToken) => FindByIndexAsync("item", itemId);

    public async ValueTask<IReadOnlyList<StoredCallEvent>> CommitAsync(CallCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        if (commit.IsEmpty && commit.Expected.Count == 0) return [];
        var db = await redis.DatabaseAsync();
        RedisResult result;
        try
        {
            result = await db.ScriptEvaluateAsync(RedisCallScripts.Commit, values: [Prefix, Serialize(commit)]);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("CONFLICT ", StringComparison.Ordinal))
        {
            throw new CallCommitConflictException(e.Message["CONFLICT ".Length..]);
        }
        var positions = (long[])result!;
        var stored = new StoredCallEvent[positions.Length];
        for (var i = 0; i < positions.Length; i++) stored[i] = new StoredCallEvent(positions[i], commit.Events[i]);
        return stored;
    }

    public async ValueTask<IReadOnlyList<TrackedCall>> LiveAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var ids = await db.SetMembersAsync(redis.Key("calls:live"));
        var calls = new List<(long Order, TrackedCall Call)>(ids.Length);
        foreach (var chunk in ids.Chunk(ListBatch))
        {
            var reads = chunk.Select(id => db.HashGetAsync(CallKey((string)id!), ["j", "v", "o"])).ToArray();
            foreach (var read in reads)
            {
                var values = await read;
                if (Read(values) is { IsEnded: false } call) calls.Add(((long)values[2], call));
            }
        }
        // Oldest first, as every store lists them.
        return [.. calls.OrderBy(c => c.Order).Select(c => c.Call)];
    }

    public async ValueTask<(IReadOnlyList<TrackedCall> Live, long Position)> SnapshotAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var values = (RedisValue[])(await db.ScriptEvaluateAsync(RedisCallScripts.Snapshot, values: [Prefix]))!;
        var live = new List<TrackedCall>(values.Length / 2);
        for (var i = 0; i + 1 < values.Length; i += 2) live.Add(Read([values[i], values[i + 1]])!);
        return (live, (long)values[^1]);
    }

    public async ValueTask<(TrackedCall? Call, long Position)> SnapshotCallAsync(string id, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var values = (RedisValue[])(await db.ScriptEvaluateAsync(RedisCallScripts.SnapshotCall, values: [Prefix, id]))!;
        var call = ((string?)values[0]) is { Length: > 0 } ? Read([values[0], values[1]]) : null;
        return (call, (long)values[2]);
    }

    public async ValueTask<CallPageResult> ListAsync(CallQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var db = await redis.DatabaseAsync();
        var page = new CallPageBuilder(query);
        var after = query.After;
        while (true)
        {
            // Insertion numbers in order after the cursor, a batch at a time, until the page is complete.
            var entries = await db.SortedSetRangeByScoreWithScoresAsync(redis.Key("calls:order"), after, double.PositiveInfinity, Exclude.Start,
                take: ListBatch);
            if (entries.Length == 0) return page.Result();
            var reads = entries.Select(e => db.HashGetAsync(CallKey((string)e.Element!), ["j", "v"])).ToArray();
            for (var i = 0; i < entries.Length; i++)
            {
                after = (long)entries[i].Score;
                if (Read(await reads[i]) is { } call && !page.Offer(after, call)) return page.Result();
            }
        }
    }

    public async ValueTask<IReadOnlyList<CallEvent>> EventsAsync(string callId, long afterSequence, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var entries = await db.ListRangeAsync(redis.Key("events:" + callId));
        var events = new List<CallEvent>(entries.Length);
        foreach (var entry in entries)
        {
            var e = ParseListed(entry).Event;
            if (e.Sequence > afterSequence) events.Add(e);
        }
        return events;
    }

    public async ValueTask<IReadOnlyList<StoredCallEvent>> ReadLogAsync(long afterPosition, int limit, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var entries = await db.StreamRangeAsync(redis.Key("log"), $"{afterPosition + 1}-0", "+", limit);
        return [.. entries.Select(ParseLogged)];
    }

    public async ValueTask<long> OldestLogPositionAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var first = await db.StreamRangeAsync(redis.Key("log"), "-", "+", 1);
        if (first.Length > 0) return PositionOf(first[0].Id);
        var head = await db.StringGetAsync(redis.Key("log:position"));
        return (head.IsNull ? 0 : (long)head) + 1;
    }

    public async ValueTask<IReadOnlyList<CommandIntent>> IntentsAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var entries = await db.HashValuesAsync(redis.Key("intents"));
        return [.. entries.Select(e => TrackedCallJson.DeserializeIntent((string)e!))];
    }

    public async ValueTask<int> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var purged = 0;
        while (true)
        {
            // In batches: one script blocks Redis while it runs, so none may take long.
            var count = (int)await db.ScriptEvaluateAsync(RedisCallScripts.Purge, values: [Prefix, endedBefore.ToUnixTimeMilliseconds(), ListBatch]);
            purged += count;
            if (count < ListBatch) return purged;
        }
    }

    public async IAsyncEnumerable<IReadOnlyList<StoredCallEvent>> TailAsync(long afterPosition, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var bell = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var subscriber = (await redis.MultiplexerAsync()).GetSubscriber();
        var channel = new RedisChannel(redis.Prefix + "log:bell", RedisChannel.PatternMode.Literal);
        await subscriber.SubscribeAsync(channel, (_, _) => bell.Writer.TryWrite(true));
        try
        {
            var after = afterPosition;
            while (!cancellationToken.IsCancellationRequested)
            {
                IReadOnlyList<StoredCallEvent> batch;
                try
                {
                    batch = await ReadLogAsync(after, TailBatch, cancellationToken);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // Redis restarting or unreachable: the log is still there when it is back (other failures end the
                    // tail; its reader starts it again).
                    logger.LogWarning("Reading the shared call log after {Position} failed: {Message}", after, e.Message);
                    batch = [];
                }
                if (batch.Count > 0)
                {
                    after = batch[^1].Position;
                    yield return batch;
                    if (batch.Count == TailBatch) continue;
                }
                try
                {
                    await bell.Reader.ReadAsync(cancellationToken).AsTask().WaitAsync(TailPoll, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // No ring within the poll interval: read anyway (a ring is lost while Redis reconnects).
                }
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    private async ValueTask<TrackedCall?> FindByIndexAsync(string index, string key)
    {
        var db = await redis.DatabaseAsync();
        var result = await db.ScriptEvaluateAsync(RedisCallScripts.FindByIndex, values: [Prefix, index, key]);
        return result.IsNull ? null : Read((RedisValue[])result!);
    }

    private RedisKey CallKey(string id) => redis.Key("call:" + id);

    private static TrackedCall? Read(RedisValue[] jsonAndVersion) =>
        jsonAndVersion[0].IsNull ? null : TrackedCallJson.DeserializeCall((string)jsonAndVersion[0]!) with { Version = (long)jsonAndVersion[1] };

    private static StoredCallEvent ParseLogged(StreamEntry entry) =>
        new(PositionOf(entry.Id), TrackedCallJson.DeserializeEvent((string)entry["e"]!));

    private static StoredCallEvent ParseListed(RedisValue entry)
    {
        var text = (string)entry!;
        var bar = text.IndexOf('|', StringComparison.Ordinal);
        return new StoredCallEvent(long.Parse(text.AsSpan(0, bar), CultureInfo.InvariantCulture), TrackedCallJson.DeserializeEvent(text[(bar + 1)..]));
    }

    private static long PositionOf(RedisValue streamId)
    {
        var id = (string)streamId!;
        return long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
    }

    /// <summary>The commit as the script reads it: what to check, write, append and remove.</summary>
    private static string Serialize(CallCommit commit)
    {
        var json = new JsonObject
        {
            ["expect"] = new JsonArray([.. commit.Expected.Select(e => (JsonNode)new JsonObject { ["id"] = e.Id, ["v"] = e.Version })]),
            ["removed"] = new JsonArray([.. commit.RemovedCalls.Select(id => (JsonNode)JsonValue.Create(id))]),
            ["calls"] = new JsonArray([.. commit.Calls.Select(call => (JsonNode)new JsonObject
            {
                ["id"] = call.Id,
                ["j"] = TrackedCallJson.Serialize(call),
                ["x"] = new JsonArray([.. IndexEntries(call)]),
                ["ended"] = call.IsEnded ? (call.EndedAt ?? call.UpdatedAt).ToUnixTimeMilliseconds() : -1,
            })]),
            ["events"] = new JsonArray([.. commit.Events.Select(e => (JsonNode)new JsonObject { ["call"] = e.Call.Id, ["j"] = TrackedCallJson.Serialize(e) })]),
            ["intents"] = new JsonArray([.. commit.Intents.Select(i => (JsonNode)new JsonObject { ["id"] = i.Id, ["j"] = TrackedCallJson.Serialize(i) })]),
            ["removedIntents"] = new JsonArray([.. commit.RemovedIntents.Select(id => (JsonNode)JsonValue.Create(id))]),
        };
        return json.ToJsonString();
    }

    private static IEnumerable<JsonNode> IndexEntries(TrackedCall call)
    {
        foreach (var leg in call.Legs)
        {
            yield return new JsonArray("item", leg.ItemId);
            if (leg.Item.CallId is { } sipCallId) yield return new JsonArray("sip", sipCallId);
        }
    }
}
