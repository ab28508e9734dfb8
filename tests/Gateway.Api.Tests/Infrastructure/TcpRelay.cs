using System.Net;
using System.Net.Sockets;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay in front of a server, standing in for the network between a browser and the gateway:
/// <see cref="Cut"/> drops every connection through it and refuses new ones (an outage), <see cref="Restore"/> accepts
/// again on the same port.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private IPEndPoint _target;
    private TcpListener? _listener;
    private CancellationTokenSource _connections = new();
    private Task _accepting = Task.CompletedTask;

    private TcpRelay(IPEndPoint target, int port)
    {
        _target = target;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The target's URL with the relay's port.</summary>
    public Uri Address => new UriBuilder("http", IPAddress.Loopback.ToString(), Port).Uri;

    public static TcpRelay Start(Uri target)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var relay = new TcpRelay(EndPoint(target), ((IPEndPoint)listener.LocalEndpoint).Port);
        relay.Accept(listener);
        return relay;
    }

    private static IPEndPoint EndPoint(Uri target) => new(IPAddress.Parse(target.Host), target.Port);

    /// <summary>Closes every relayed connection and stops accepting: clients see their connections drop and new ones refused.</summary>
    public void Cut()
    {
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            _connections.Cancel();
            _connections.Dispose();
            _connections = new CancellationTokenSource();
        }
    }

    /// <summary>Accepts connections again, on the same port, relaying them to <paramref name="target"/> when given (a
    /// server that came back elsewhere, as a restarted one behind a load balancer).</summary>
    public void Restore(Uri? target = null)
    {
        if (target is not null) lock (_gate) _target = EndPoint(target);
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Accept(listener);
    }

    private void Accept(TcpListener listener)
    {
        CancellationToken token;
        lock (_gate)
        {
            _listener = listener;
            token = _connections.Token;
        }
        _accepting = AcceptAsync(listener, token);
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken token)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(token);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return; // cut
            }
            _ = RelayAsync(client, token);
        }
    }

    private async Task RelayAsync(Socket client, CancellationToken token)
    {
        IPEndPoint target;
        lock (_gate) target = _target;
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using (client)
        {
            try
            {
                await server.ConnectAsync(target, token);
                await using var clientStream = new NetworkStream(client, ownsSocket: false);
                await using var serverStream = new NetworkStream(server, ownsSocket: false);
                await Task.WhenAny(clientStream.CopyToAsync(serverStream, token), serverStream.CopyToAsync(clientStream, token));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // A side closed, or the relay was cut: either way both sockets close below.
            }
            // An abortive close, like a network that went away: no orderly goodbye reaches either side.
            client.LingerState = new LingerOption(true, 0);
            server.LingerState = new LingerOption(true, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _accepting;
        _connections.Dispose();
    }
}
