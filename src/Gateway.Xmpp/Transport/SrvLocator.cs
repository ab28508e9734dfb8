using DnsClient;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Transport;

/// <summary>One SRV record (RFC 2782): a target host and port, its priority (lower first) and weight (share within a priority).</summary>
public sealed record SrvRecord(string Target, int Port, int Priority, int Weight);

/// <summary>Looks up SRV records; the seam that lets the ordering be tested without DNS.</summary>
public interface ISrvResolver
{
    /// <summary>The records of <paramref name="name"/>; empty when there are none or the lookup failed.</summary>
    Task<IReadOnlyList<SrvRecord>> ResolveAsync(string name, CancellationToken cancellationToken);
}

/// <summary>SRV lookups through the system's DNS servers (<c>/etc/resolv.conf</c>).</summary>
public sealed class DnsSrvResolver : ISrvResolver
{
    public static DnsSrvResolver Shared { get; } = new();

    private readonly LookupClient _client = new();

    public async Task<IReadOnlyList<SrvRecord>> ResolveAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await _client.QueryAsync(name, QueryType.SRV, QueryClass.IN, cancellationToken);
            return answer.Answers.SrvRecords()
                .Select(r => new SrvRecord(r.Target.Value.TrimEnd('.'), r.Port, r.Priority, r.Weight))
                .ToArray();
        }
        catch (DnsResponseException)
        {
            return [];
        }
    }
}

/// <summary>
/// Where a client connects when only a domain is configured (RFC 6120 §3.2): the targets of the domain's
/// <c>_xmpp-client._tcp</c> SRV records, lowest priority first and, within a priority, in a random order weighted by
/// weight (RFC 2782); the domain itself on port 5222 when it has no such record. A single record with the target
/// <c>.</c> says the domain offers no XMPP service.
/// </summary>
public sealed class SrvLocator(ISrvResolver resolver, Func<int, int>? nextRandom = null)
{
    public const int DefaultPort = 5222;

    /// <summary>Returns a number from 0 to the argument, inclusive.</summary>
    private readonly Func<int, int> _nextRandom = nextRandom ?? (max => Random.Shared.Next(max + 1));

    public async Task<IReadOnlyList<(string Host, int Port)>> LocateAsync(string domain, CancellationToken cancellationToken)
    {
        var records = await resolver.ResolveAsync("_xmpp-client._tcp." + domain, cancellationToken);
        if (records.Count == 0) return [(domain, DefaultPort)];
        if (records is [{ Target: "" or "." }])
            throw new XmppConnectionLostException($"{domain} says it offers no XMPP client service (SRV target '.').") { NeverSent = true };
        return Order(records).Select(r => (r.Target, r.Port)).ToArray();
    }

    /// <summary>RFC 2782: by priority; within one, repeatedly pick a record with probability proportional to its weight
    /// (records of weight 0 first in the running sum, so they are picked only when the draw is 0).</summary>
    public IReadOnlyList<SrvRecord> Order(IEnumerable<SrvRecord> records)
    {
        var ordered = new List<SrvRecord>();
        foreach (var group in records.Where(r => r.Target is not ("" or ".")).GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            var left = group.OrderBy(r => r.Weight == 0 ? 0 : 1).ToList();
            while (left.Count > 0)
            {
                var draw = _nextRandom(left.Sum(r => r.Weight));
                var running = 0;
                var pick = left[^1];
                foreach (var record in left)
                {
                    running += record.Weight;
                    if (running < draw) continue;
                    pick = record;
                    break;
                }
                ordered.Add(pick);
                left.Remove(pick);
            }
        }
        return ordered;
    }
}
