using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using ActiveCalls.Sip.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Sip.Transport;

/// <summary>
/// One UDP socket (RFC 3261 §18). Received requests get <c>received</c>/<c>rport</c> on their top Via (§18.2.1,
/// RFC 3581); received responses whose top Via is not ours are dropped (§18.1.2); malformed requests that can be
/// answered get a 400 (or 505) straight from here, anything else malformed is dropped.
/// </summary>
public sealed class SipUdpTransport : IAsyncDisposable
{
    /// <summary>1 MiB: Linux's default (208 KiB) overflowed at 50 concurrent call setups against sipp on a loaded
    /// 2-core machine (docs/benchmarks-archive.md, "SIP engine: a failure found under load, and its fix"), and every
    /// lost datagram costs a retransmission.</summary>
    public const int DefaultReceiveBufferSize = 1024 * 1024;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly int _maxDatagram;
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiveLoop;
    private Action<SipMessage, IPEndPoint>? _onMessage;

    public SipUdpTransport(SipTransportOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger ?? NullLogger.Instance;
        _maxDatagram = Math.Clamp(options.MaxDatagramSize, 512, 65507);
        var bind = IPAddress.Parse(options.BindAddress);
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (options.ReceiveBufferSize > 0) _socket.ReceiveBufferSize = options.ReceiveBufferSize;
        _socket.Bind(new IPEndPoint(bind, options.Port));
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        AdvertisedHost = options.AdvertisedHost ?? (bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any) ? GuessHostAddress() : FormatHost(bind));
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The host written in Via and Contact.</summary>
    public string AdvertisedHost { get; }

    public int AdvertisedPort => LocalEndPoint.Port;

    /// <summary><c>host:port</c> as written in Via (lower case, for matching responses).</summary>
    public string SentBy => $"{AdvertisedHost.ToLowerInvariant()}:{AdvertisedPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Datagrams received, parse failures, responses dropped for a foreign Via (for tests and logs).</summary>
    public long Received => Interlocked.Read(ref _received);

    public long Malformed => Interlocked.Read(ref _malformed);

    private long _received, _malformed;

    /// <summary>Starts receiving; <paramref name="onMessage"/> runs on the receive loop and must not block.</summary>
    public void Start(Action<SipMessage, IPEndPoint> onMessage)
    {
        if (_receiveLoop is not null) throw new InvalidOperationException("Already started.");
        _onMessage = onMessage;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public async ValueTask SendAsync(SipMessage message, IPEndPoint destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = message.ToBytes();
        if (bytes.Length > _maxDatagram)
            throw new SipTransportException($"The message is {bytes.Length} bytes, more than the {_maxDatagram}-byte datagram limit.");
        if (_logger.IsEnabled(LogLevel.Trace))
            _logger.LogTrace("SIP send to {Destination}:\n{Message}", destination, message);
        try
        {
            await _socket.SendToAsync(bytes, SocketFlags.None, destination, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new SipTransportException($"Sending to {destination} failed: {e.SocketErrorCode}.", e);
        }
        catch (ObjectDisposedException e)
        {
            throw new SipTransportException("The transport is closed.", e);
        }
    }

    /// <summary>Sends one datagram now (UDP sends do not wait for the peer).</summary>
    public void Send(SipMessage message, IPEndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = message.ToBytes();
        if (bytes.Length > _maxDatagram)
            throw new SipTransportException($"The message is {bytes.Length} bytes, more than the {_maxDatagram}-byte datagram limit.");
        if (_logger.IsEnabled(LogLevel.Trace))
            _logger.LogTrace("SIP send to {Destination}:\n{Message}", destination, message);
        try
        {
            _socket.SendTo(bytes, SocketFlags.None, destination);
        }
        catch (SocketException e)
        {
            throw new SipTransportException($"Sending to {destination} failed: {e.SocketErrorCode}.", e);
        }
        catch (ObjectDisposedException e)
        {
            throw new SipTransportException("The transport is closed.", e);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                // ICMP errors surface here on some platforms; they say nothing about the next datagram.
                _logger.LogDebug("UDP receive error {Error}", e.SocketErrorCode);
                continue;
            }

            Interlocked.Increment(ref _received);
            var source = (IPEndPoint)result.RemoteEndPoint;
            if (result.ReceivedBytes > _maxDatagram)
            {
                _logger.LogWarning("Dropped a {Size}-byte datagram from {Source}: larger than the limit", result.ReceivedBytes, source);
                continue;
            }
            try
            {
                HandleDatagram(buffer.AsSpan(0, result.ReceivedBytes), source);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger.LogError(e, "Handling a datagram from {Source} failed", source);
            }
        }
    }

    private void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint source)
    {
        SipMessage? message;
        try
        {
            message = SipMessageParser.Parse(datagram);
        }
        catch (SipParseException e)
        {
            Interlocked.Increment(ref _malformed);
            _logger.LogInformation("Malformed SIP from {Source}: {Error}", source, e.Message);
            if (e.RequestHeaders is { } headers && e.Method != SipMethods.Ack)
                _ = AnswerMalformedAsync(headers, e, source);
            return;
        }
        if (message is null) return; // keep-alive

        if (_logger.IsEnabled(LogLevel.Trace))
            _logger.LogTrace("SIP received from {Source}:\n{Message}", source, message);

        if (message is SipRequest request)
        {
            StampReceived(request, source);
        }
        else
        {
            var via = message.TopVia;
            if (!string.Equals(via.SentBy, SentBy, StringComparison.OrdinalIgnoreCase) &&
                !(via.Port is null && AdvertisedPort == 5060 && string.Equals(via.Host, AdvertisedHost, StringComparison.OrdinalIgnoreCase)))
            {
                _logger.LogInformation("Dropped a response from {Source} whose top Via {Via} is not ours", source, via);
                return;
            }
        }
        _onMessage?.Invoke(message, source);
    }

    /// <summary>RFC 3261 §18.2.1 and RFC 3581 §4: record where the request really came from.</summary>
    internal static void StampReceived(SipRequest request, IPEndPoint source)
    {
        var via = request.TopVia;
        bool changed = false;
        string sourceHost = source.Address.ToString();
        if (via.HasRport)
        {
            via.Parameters.Set("rport", source.Port.ToString(CultureInfo.InvariantCulture));
            via.Received = sourceHost;
            changed = true;
        }
        else if (!IPAddress.TryParse(via.Host.Trim('[', ']'), out var viaAddress) || !viaAddress.Equals(source.Address))
        {
            via.Received = sourceHost;
            changed = true;
        }
        if (changed) request.SetTopVia(via);
    }

    private async Task AnswerMalformedAsync(SipHeaders headers, SipParseException error, IPEndPoint source)
    {
        try
        {
            var response = new SipResponse(error.SuggestedStatus, SipStatus.DefaultReason(error.SuggestedStatus));
            foreach (var via in headers.GetFields("Via")) response.Headers.Add("Via", via);
            response.Headers.Add("From", headers["From"]!);
            var to = NameAddress.Parse(headers["To"]!);
            to.Tag ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
            response.Headers.Add("To", to.ToString());
            response.Headers.Add("Call-ID", headers["Call-ID"]!);
            response.Headers.Add("CSeq", headers["CSeq"]!);
            var detail = error.Message.Replace('"', '\'').Replace('\r', ' ').Replace('\n', ' ');
            response.Headers.Add("Warning", $"399 {AdvertisedHost} \"{detail}\"");
            await SendAsync(response, source);
        }
        catch (Exception e) when (e is SipTransportException or SipParseException)
        {
            _logger.LogDebug("Could not answer a malformed request from {Source}: {Error}", source, e.Message);
        }
    }

    private static string FormatHost(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private static string GuessHostAddress()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback) continue;
            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                if (unicast.Address.AddressFamily == AddressFamily.InterNetwork) return unicast.Address.ToString();
        }
        return "127.0.0.1";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        if (_receiveLoop is not null)
        {
            try
            {
                await _receiveLoop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }
}

/// <summary>A message could not be sent (too large, socket error, transport closed).</summary>
public sealed class SipTransportException : Exception
{
    public SipTransportException(string message) : base(message) { }

    public SipTransportException(string message, Exception innerException) : base(message, innerException) { }

    public SipTransportException() : base("SIP transport error.") { }
}
