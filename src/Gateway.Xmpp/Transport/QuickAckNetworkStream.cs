using System.Net.Sockets;

namespace Gateway.Xmpp.Transport;

/// <summary>
/// A <see cref="NetworkStream"/> that acknowledges what it read at once (Linux <c>TCP_QUICKACK</c>) rather than when the
/// kernel's delayed-ACK timer fires, up to 40 ms later.
/// </summary>
/// <remarks>
/// Servers run Nagle's algorithm on client sockets by default (Prosody 0.12 does): a small stanza the server writes while
/// an earlier one is still unacknowledged waits for our ACK. Between two of our own writes nothing would carry that ACK
/// but the timer, so an IQ result written right after an XEP-0198 <c>&lt;a/&gt;</c>, a ping or a notification would
/// arrive 40 ms late. Linux drops back to delayed ACKs by itself, so the option is set again after every read; setting it
/// sends the ACK the kernel was holding. Elsewhere (no such option) reads are left as they are.
/// </remarks>
internal sealed class QuickAckNetworkStream(Socket socket) : NetworkStream(socket, ownsSocket: true)
{
    private const int IpProtocolTcp = 6;
    private const int TcpQuickAck = 12;
    private static readonly byte[] On = BitConverter.GetBytes(1);

    private bool _quickAck = OperatingSystem.IsLinux();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read > 0) AcknowledgeNow();
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void AcknowledgeNow()
    {
        if (!_quickAck) return;
        try
        {
            Socket.SetRawSocketOption(IpProtocolTcp, TcpQuickAck, On);
        }
        catch (SocketException)
        {
            // Refused (a kernel without it, or the socket is closing): the stream works as before, only without the option.
            _quickAck = false;
        }
        catch (ObjectDisposedException)
        {
            _quickAck = false;
        }
    }
}
