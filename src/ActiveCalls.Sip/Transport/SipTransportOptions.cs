namespace ActiveCalls.Sip.Transport;

/// <summary>Where the UDP socket listens and what it advertises in Via and Contact.</summary>
public sealed class SipTransportOptions
{
    /// <summary>The local address to bind (default all IPv4 interfaces).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>The local UDP port (0 picks a free one).</summary>
    public int Port { get; set; } = 5060;

    /// <summary>The host written in Via sent-by and Contact. Default: the bind address, or when that is a wildcard,
    /// the machine's first non-loopback IPv4 address.</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Datagrams larger than this are dropped on receipt and refused on sending (UDP's own limit is 65507).</summary>
    public int MaxDatagramSize { get; set; } = 65507;

    /// <summary>The socket's receive buffer (SO_RCVBUF) in bytes; 0 keeps the system default. The kernel caps it
    /// (Linux: <c>net.core.rmem_max</c>).</summary>
    public int ReceiveBufferSize { get; set; } = SipUdpTransport.DefaultReceiveBufferSize;
}
