namespace Gateway.Api.Calls.Events;

/// <summary>The event log's epoch and the position of the last event published: what a stream snapshot is "as of".
/// Its own object, so consumers can read it without depending on the publisher that depends on them.</summary>
public sealed class PublishedHead
{
    private long _position;

    public string Epoch { get; private set; } = "";

    public long Position => Interlocked.Read(ref _position);

    internal void Start(string epoch, long position)
    {
        Epoch = epoch;
        Interlocked.Exchange(ref _position, position);
    }

    internal void Advance(long position) => Interlocked.Exchange(ref _position, position);
}
