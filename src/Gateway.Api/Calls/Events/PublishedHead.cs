namespace Gateway.Api.Calls.Events;

/// <summary>The event log's epoch and the position of the last event published: what a stream snapshot is "as of".
/// Its own object, so consumers can read it without depending on the publisher that depends on them.</summary>
public sealed class PublishedHead
{
    private long _position;
    private TaskCompletionSource _advanced = NewSignal();

    public string Epoch { get; private set; } = "";

    public long Position => Interlocked.Read(ref _position);

    internal void Start(string epoch, long position)
    {
        Epoch = epoch;
        Advance(position);
    }

    internal void Advance(long position)
    {
        Interlocked.Exchange(ref _position, position);
        Interlocked.Exchange(ref _advanced, NewSignal()).TrySetResult();
    }

    /// <summary>Completes once events up to <paramref name="position"/> are published here (with a shared store, a snapshot
    /// read from it may be a little ahead of what this replica's log tail has published yet).</summary>
    public async Task WaitForAsync(long position, CancellationToken cancellationToken)
    {
        while (true)
        {
            var advanced = Volatile.Read(ref _advanced).Task;
            if (Position >= position) return;
            await advanced.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
