using System.Threading.Channels;
using System.Xml.Linq;

namespace Gateway.Xmpp.Iq;

/// <summary>A filtered feed of inbound stanzas. Dispose to stop receiving; the reader then completes.</summary>
public sealed class StanzaSubscription : IDisposable
{
    private readonly Channel<XElement> _channel;
    private readonly Action<StanzaSubscription> _onDispose;
    private int _disposed;

    internal StanzaSubscription(Func<XElement, bool> filter, int capacity, Action<StanzaSubscription> onDispose)
    {
        Filter = filter;
        _onDispose = onDispose;
        _channel = Channel.CreateBounded<XElement>(new BoundedChannelOptions(capacity)
        {
            SingleReader = false,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    internal Func<XElement, bool> Filter { get; }
    internal ChannelWriter<XElement> Writer => _channel.Writer;

    public ChannelReader<XElement> Reader => _channel.Reader;

    public IAsyncEnumerable<XElement> ReadAllAsync(CancellationToken cancellationToken = default) =>
        _channel.Reader.ReadAllAsync(cancellationToken);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _channel.Writer.TryComplete();
        _onDispose(this);
    }
}
