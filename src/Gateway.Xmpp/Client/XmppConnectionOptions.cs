using Gateway.Xmpp.Framing;

namespace Gateway.Xmpp.Client;

/// <summary>Settings shared by client and component streams.</summary>
public class XmppConnectionOptions
{
    /// <summary>Host name or address to connect to.</summary>
    public string Host { get; set; } = "localhost";
    public int Port { get; set; } = 5222;

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Bound on the whole negotiation (TLS, SASL, bind, SM) of one connection attempt.</summary>
    public TimeSpan NegotiationTimeout { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>Default reply timeout of an IQ when the caller gives none.</summary>
    public TimeSpan DefaultIqTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>What one inbound stanza may cost to read; one past a limit is dropped alone (and counted), the stream goes on.</summary>
    public StanzaLimits Limits { get; set; } = new();
    /// <summary>Outbound queue bound: senders wait (back-pressure) when this many stanzas are queued.</summary>
    public int SendQueueCapacity { get; set; } = 1024;

    /// <summary>After this long with nothing received, an XEP-0199 ping is sent; <see cref="PingTimeout"/> later with no
    /// answer, the socket is considered half-open and is dropped.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan ReconnectInitialDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Only the first connection is bounded: endless first retries would hide a configuration error.</summary>
    public int MaxInitialAttempts { get; set; } = 3;

    /// <summary>Most inbound IQ requests handled at once.</summary>
    public int MaxConcurrentRequestHandlers { get; set; } = 64;

    internal virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("Host is required.");
        if (Port is <= 0 or > 65535) throw new ArgumentException($"Port {Port} is out of range.");
        if (MaxInitialAttempts < 1) throw new ArgumentException("MaxInitialAttempts must be at least 1.");
        if (DefaultIqTimeout <= TimeSpan.Zero || PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero)
            throw new ArgumentException("Timeouts must be positive.");
        Limits.Validate();
    }
}
