using System.Net;
using System.Net.Sockets;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Transport;

/// <summary>
/// Turns a host and port into a UDP destination: IP literals directly, names by A/AAAA lookup (IPv4 first). No
/// NAPTR/SRV (RFC 3263) — a name without a port means port 5060.
/// </summary>
public static class SipResolver
{
    public const int DefaultPort = 5060;

    public static async Task<IPEndPoint> ResolveAsync(string host, int? port, CancellationToken cancellationToken = default)
    {
        var bare = host.Length > 1 && host[0] == '[' ? host[1..^1] : host;
        if (IPAddress.TryParse(bare, out var literal)) return new IPEndPoint(literal, port ?? DefaultPort);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(bare, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new SipTransportException($"Cannot resolve '{host}': {e.SocketErrorCode}.", e);
        }
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SipTransportException($"'{host}' has no address.");
        return new IPEndPoint(chosen, port ?? DefaultPort);
    }

    /// <summary>Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): received/rport when the request carried them,
    /// else the Via sent-by.</summary>
    public static Task<IPEndPoint> ResponseDestinationAsync(ViaHeader topVia, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topVia);
        var host = topVia.Maddr ?? topVia.Received ?? topVia.Host;
        var port = topVia.Rport ?? topVia.Port ?? DefaultPort;
        return ResolveAsync(host, port, cancellationToken);
    }
}
