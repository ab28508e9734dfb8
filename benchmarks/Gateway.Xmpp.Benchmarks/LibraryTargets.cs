using System.Diagnostics;
using System.Xml.Linq;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Benchmarks;

/// <summary>Drives an <see cref="IIqSender"/> the way an application would: K workers, each awaiting
/// <see cref="IIqSender.SendIqAsync"/> with a fresh ping payload, one request after another.</summary>
public abstract class IqSenderTarget : IBenchTarget
{
    private readonly Jid _server;

    protected IqSenderTarget(string domain) => _server = new Jid(null, domain);

    public abstract string Name { get; }
    public abstract string Description { get; }
    protected abstract IIqSender Sender { get; }

    public abstract Task ConnectAsync(CancellationToken cancellationToken);
    public abstract ValueTask DisposeAsync();
    public abstract StreamManagementStatistics? Acks { get; }

    /// <summary>Replies the library dropped (late, duplicated or from a wrong sender): must stay 0.</summary>
    public abstract long UnmatchedReplies { get; }

    public async Task RunAsync(int count, int concurrency, LatencyRecorder latencies, CancellationToken cancellationToken)
    {
        var sender = Sender;
        var next = -1;
        var workers = new Task[Math.Min(concurrency, count)];
        for (var w = 0; w < workers.Length; w++) workers[w] = Worker();
        await Task.WhenAll(workers);

        async Task Worker()
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                var start = Stopwatch.GetTimestamp();
                var reply = await sender.SendIqAsync(_server, IqType.Get, new XElement(Ns.Ping + "ping"), cancellationToken: cancellationToken);
                latencies.Record(index, Stopwatch.GetTimestamp() - start);
                if ((string?)reply.Attribute("type") != "result") throw new InvalidDataException("Not a result: " + reply);
            }
        }
    }
}

/// <summary>One <see cref="XmppClient"/> connection.</summary>
public sealed class LibraryClientTarget(string name, XmppClientOptions options) : IqSenderTarget(options.Jid!.Domain)
{
    private readonly XmppClient _client = new(options);

    public override string Name => name;
    public override string Description =>
        $"XmppClient.SendIqAsync, one connection, XEP-0198 {(options.EnableStreamManagement ? "on (default)" : "off")}";
    protected override IIqSender Sender => _client;
    public override long UnmatchedReplies => _client.UnmatchedIqReplies;
    public override StreamManagementStatistics? Acks => _client.StreamManagementStatistics;

    public override Task ConnectAsync(CancellationToken cancellationToken) => _client.StartAsync(cancellationToken);

    public override ValueTask DisposeAsync() => _client.DisposeAsync();
}

/// <summary>An <see cref="XmppClientPool"/> of N connections of one account.</summary>
public sealed class LibraryPoolTarget(string name, XmppClientOptions template, int size) : IqSenderTarget(template.Jid!.Domain)
{
    private readonly XmppClientPool _pool = new(template, new XmppPoolOptions { Size = size, InstanceName = "bench" });

    public override string Name => name;
    public override string Description => $"XmppClientPool.SendIqAsync, {size} connections, defaults (XEP-0198 on)";
    protected override IIqSender Sender => _pool;
    public override long UnmatchedReplies => _pool.Connections.Sum(c => c.UnmatchedIqReplies);

    public override StreamManagementStatistics? Acks =>
        _pool.Connections.Select(c => c.StreamManagementStatistics).Aggregate((StreamManagementStatistics?)null, (sum, next) =>
            next is not { } n ? sum
            : sum is not { } s ? n
            : new StreamManagementStatistics(s.AckRequestsReceived + n.AckRequestsReceived, s.AcksSent + n.AcksSent,
                s.AckRequestsSent + n.AckRequestsSent, s.AcksReceived + n.AcksReceived, s.Unacked + n.Unacked, s.InconsistentAcks + n.InconsistentAcks));

    public override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _pool.StartAsync(cancellationToken);
        if (_pool.Health != PoolHealth.Healthy) throw new InvalidOperationException($"Pool is {_pool.Health}.");
    }

    public override ValueTask DisposeAsync() => _pool.DisposeAsync();
}
