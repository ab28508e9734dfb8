namespace Gateway.Api.Calls.Events;

/// <summary>The event log's epoch and the position of the last event published: what a stream snapshot is "as of".
/// Its own object, so consumers can read it without depending on the publisher that depends on them.</summary>
public sealed class PublishedHead
{
    private long _position;
    // Created only while someone waits: publishing (every commit) costs no allocation otherwise.
    private TaskCompletionSource? _advanced;

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
        Interlocked.Exchange(ref _advanced, null)?.TrySetResult();
    }

    /// <summary>Completes once events up to <paramref name="position"/> are published here (with a shared store, a snapshot
    /// read from it may be a little ahead of what this replica's log tail has published yet).</summary>
    public async Task WaitForAsync(long position, CancellationToken cancellationToken)
    {
        while (Position < position)
        {
            var signal = Volatile.Read(ref _advanced);
            if (signal is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                signal = Interlocked.CompareExchange(ref _advanced, created, null) ?? created;
            }
            // Looked at again once the signal is in place: an advance just before it would not complete it.
            if (Position >= position) return;
            await signal.Task.WaitAsync(cancellationToken);
        }
    }
}
