using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>What kind of network an address belongs to, as far as webhook targets are concerned.</summary>
public enum AddressClass
{
    Public,
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    /// <summary>100.64.0.0/10, the carrier-grade NAT range (RFC 6598).</summary>
    SharedAddressSpace,
    Multicast,
    /// <summary>Documentation, benchmarking, protocol-assignment and future-use ranges, broadcast, deprecated forms.</summary>
    Reserved,
}

/// <summary>A delivery was not attempted: the target resolved to no address a webhook may be sent to.</summary>
public sealed class WebhookTargetRefusedException(string message) : IOException(message);

/// <summary>
/// Keeps webhooks from being aimed at the gateway's own network (SSRF). A URL is checked when it is registered, and —
/// because DNS can change or lie between then and a delivery — every connection is checked again: the delivery
/// handler's <see cref="SocketsHttpHandler.ConnectCallback"/> resolves the host itself and connects only to public
/// addresses, so the address checked is the address connected to. <see cref="WebhookOptions.AllowPrivateTargets"/>
/// turns both checks off (development and tests).
/// </summary>
public sealed class WebhookTargetGuard
{
    public const int MaxUrlLength = 2048;

    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);
    private readonly WebhookOptions _options;
    private readonly Func<IPAddress, bool> _connectable;

    public WebhookTargetGuard(IOptions<WebhookOptions> options) : this(options, a => Classify(a) == AddressClass.Public) { }

    /// <param name="connectable">Which addresses the connect-time check lets through: public ones; tests narrow it to
    /// one loopback family to exercise the connection path, which no public address can reach from a test machine.</param>
    internal WebhookTargetGuard(IOptions<WebhookOptions> options, Func<IPAddress, bool> connectable)
    {
        _options = options.Value;
        _connectable = connectable;
    }

    /// <summary>Classifies an address; IPv4 forms embedded in IPv6 (mapped, NAT64, 6to4) are judged by their IPv4 address.</summary>
    public static AddressClass Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) return ClassifyV4(address.MapToIPv4().GetAddressBytes());
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => ClassifyV4(address.GetAddressBytes()),
            AddressFamily.InterNetworkV6 => ClassifyV6(address.GetAddressBytes()),
            _ => AddressClass.Reserved,
        };
    }

    private static AddressClass ClassifyV4(byte[] b) => b switch
    {
        [0, ..] => AddressClass.Unspecified,
        [10, ..] => AddressClass.Private,
        [100, >= 64 and <= 127, ..] => AddressClass.SharedAddressSpace,
        [127, ..] => AddressClass.Loopback,
        [169, 254, ..] => AddressClass.LinkLocal,
        [172, >= 16 and <= 31, ..] => AddressClass.Private,
        [192, 168, ..] => AddressClass.Private,
        [192, 0, 0, _] or [192, 0, 2, _] or [198, 51, 100, _] or [203, 0, 113, _] => AddressClass.Reserved,
        [198, 18 or 19, ..] => AddressClass.Reserved,
        [>= 224 and <= 239, ..] => AddressClass.Multicast,
        [>= 240, ..] => AddressClass.Reserved,
        _ => AddressClass.Public,
    };

    private static AddressClass ClassifyV6(byte[] b)
    {
        var span = b.AsSpan();
        if (span[..15].IndexOfAnyExcept((byte)0) < 0) return b[15] switch { 0 => AddressClass.Unspecified, 1 => AddressClass.Loopback, _ => AddressClass.Reserved };
        // ::/96 other than :: and ::1: the deprecated IPv4-compatible form.
        if (span[..12].IndexOfAnyExcept((byte)0) < 0) return AddressClass.Reserved;
        // 64:ff9b::/96, NAT64: reaches the embedded IPv4 address.
        if (span[..12].SequenceEqual((ReadOnlySpan<byte>)[0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return ClassifyV4(b[12..]);
        // 2002::/16, 6to4: tunnels to the IPv4 address in bytes 2-5.
        if (b[0] == 0x20 && b[1] == 0x02) return ClassifyV4(b[2..6]);
        if (b[0] == 0xff) return AddressClass.Multicast;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass.LinkLocal;
        // fec0::/10 (deprecated site-local) and fc00::/7 (unique local).
        if ((b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || (b[0] & 0xfe) == 0xfc) return AddressClass.Private;
        // 2001:db8::/32 documentation, 100::/64 discard.
        if (b is [0x20, 0x01, 0x0d, 0xb8, ..]) return AddressClass.Reserved;
        if (b[0] == 0x01 && b[1] == 0x00 && span[2..8].IndexOfAnyExcept((byte)0) < 0) return AddressClass.Reserved;
        return AddressClass.Public;
    }

    public static string Describe(AddressClass kind) => kind switch
    {
        AddressClass.Public => "a public address",
        AddressClass.Unspecified => "an unspecified address",
        AddressClass.Loopback => "a loopback address",
        AddressClass.Private => "a private address",
        AddressClass.LinkLocal => "a link-local address",
        AddressClass.SharedAddressSpace => "a carrier-grade NAT address",
        AddressClass.Multicast => "a multicast address",
        _ => "a reserved address",
    };

    /// <summary>Checks a target URL for registration: syntax, scheme and (unless private targets are allowed) the
    /// addresses its host resolves to now. Returns the URL, or why it is refused (a sentence for the client).</summary>
    public async Task<(Uri? Url, string? Error)> CheckAsync(string? url, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url)) return (null, "is required.");
        if (url.Length > MaxUrlLength) return (null, $"must be at most {MaxUrlLength} characters.");
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return (null, "must be an absolute http(s) URL.");
        if (uri.Scheme == "http" && _options.RequireHttps)
            return (null, "must use https (Gateway:Webhooks:RequireHttps is on).");
        if (!string.IsNullOrEmpty(uri.UserInfo)) return (null, "must not carry credentials; authenticate deliveries by their signature.");
        if (!string.IsNullOrEmpty(uri.Fragment)) return (null, "must not have a fragment.");
        if (_options.AllowPrivateTargets) return (uri, null);

        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.DnsSafeHost, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ResolveTimeout);
            try
            {
                addresses = await Dns.GetHostAddressesAsync(uri.DnsSafeHost, timeout.Token);
            }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return (null, $"has a host '{uri.Host}' that could not be resolved.");
            }
        }
        if (addresses.Length == 0) return (null, $"has a host '{uri.Host}' that could not be resolved.");
        foreach (var address in addresses)
        {
            if (Classify(address) is var kind and not AddressClass.Public)
                return (null, $"points at {address}, {Describe(kind)}: webhook targets must be public (Gateway:Webhooks:AllowPrivateTargets allows others for development).");
        }
        return (uri, null);
    }

    /// <summary>The primary handler of the delivery client: no proxy and no redirects (either would take the request
    /// past the address check), and the connect-time check unless private targets are allowed.</summary>
    public SocketsHttpHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = _options.AttemptTimeout,
        };
        if (!_options.AllowPrivateTargets) handler.ConnectCallback = ConnectToPublicAddressAsync;
        return handler;
    }

    private async ValueTask<Stream> ConnectToPublicAddressAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var resolved = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = resolved.Where(_connectable).ToArray();
        if (allowed.Length == 0)
        {
            var refused = string.Join(", ", resolved.Select(a => $"{a} ({Describe(Classify(a))})"));
            throw new WebhookTargetRefusedException(resolved.Length == 0
                ? $"{host} resolved to no address."
                : $"{host} resolved to {refused}: not a public address, so it was not connected to.");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
