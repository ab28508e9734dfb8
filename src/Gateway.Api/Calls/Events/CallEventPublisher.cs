using System.Threading.Channels;
using Gateway.Api.Calls.Store;

namespace Gateway.Api.Calls.Events;

/// <summary>
/// A reader of every call event, in log order: the stream log (SignalR and SSE), webhooks, the command intents, and any
/// future sink. Each gets its own lossless queue from the <see cref="CallEventPublisher"/>, so a slow consumer delays
/// only itself.
/// </summary>
public interface ICallEventConsumer
{
    /// <summary>Names the consumer in logs and health.</summary>
    string Name { get; }

    /// <summary>Called once before the first event, with the store opened: the log's epoch and last position as of now.</summary>
    ValueTask StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>The next events, in log order. An exception is logged and the batch is not offered again: a consumer
    /// that must not lose events retries inside.</summary>
    ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken);
}

/// <summary>
/// The one outbound path of call events: the <see cref="CallTracker"/> publishes what it committed, in commit order, and
/// each <see cref="ICallEventConsumer"/> receives it through its own unbounded queue and pump task.
/// </summary>
public sealed class CallEventPublisher : IAsyncDisposable
{
    private const int MaxBatch = 256;

    private readonly Pump[] _pumps;
    private readonly ILogger<CallEventPublisher> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly PublishedHead _head;

    public CallEventPublisher(IEnumerable<ICallEventConsumer> consumers, PublishedHead head, ILogger<CallEventPublisher> logger)
    {
        _pumps = [.. consumers.Select(c => new Pump(c))];
        _head = head;
        _logger = logger;
    }

    /// <summary>The position of the last event published.</summary>
    public long Head => _head.Position;

    /// <summary>Completes once the events up to <paramref name="position"/> are published.</summary>
    public Task WaitForAsync(long position, CancellationToken cancellationToken) => _head.WaitForAsync(position, cancellationToken);

    /// <summary>Events published and not yet handled, per consumer.</summary>
    public IReadOnlyDictionary<string, int> Backlogs => _pumps.ToDictionary(p => p.Consumer.Name, p => p.Queue.Reader.Count);

    /// <summary>Lets every consumer start from <paramref name="head"/>, then starts their pumps.</summary>
    public async Task StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        _head.Start(head.Epoch, head.Position);
        foreach (var pump in _pumps) await pump.Consumer.StartAsync(head, store, cancellationToken);
        foreach (var pump in _pumps) pump.Task = Task.Run(() => RunAsync(pump), CancellationToken.None);
    }

    /// <summary>Hands committed events to every consumer's queue; never blocks. Called in commit order by one writer.</summary>
    public void Publish(IReadOnlyList<StoredCallEvent> events)
    {
        if (events.Count == 0) return;
        foreach (var pump in _pumps)
            foreach (var e in events) pump.Queue.Writer.TryWrite(e);
        _head.Advance(events[^1].Position);
    }

    private async Task RunAsync(Pump pump)
    {
        var reader = pump.Queue.Reader;
        var batch = new List<StoredCallEvent>(MaxBatch);
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var e)) batch.Add(e);
            try
            {
                await pump.Consumer.HandleAsync(batch, _stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Call event consumer {Consumer} failed on events {First}..{Last}", pump.Consumer.Name, batch[0].Position, batch[^1].Position);
            }
            batch.Clear();
        }
    }

    /// <summary>Lets every consumer finish what was published, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var pump in _pumps) pump.Queue.Writer.TryComplete();
        var finished = Task.WhenAll(_pumps.Select(p => p.Task).OfType<Task>());
        // A consumer stuck retrying (webhooks with their database gone) must not hold shutdown for ever.
        if (await Task.WhenAny(finished, Task.Delay(TimeSpan.FromSeconds(5))) != finished) await _stopping.CancelAsync();
        await finished;
        _stopping.Dispose();
    }

    private sealed class Pump(ICallEventConsumer consumer)
    {
        public ICallEventConsumer Consumer { get; } = consumer;
        // Not single-reader: that variant cannot count, and a backlog is worth reporting (webhooks' health).
        public Channel<StoredCallEvent> Queue { get; } = Channel.CreateUnbounded<StoredCallEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
        public Task? Task { get; set; }
    }
}
