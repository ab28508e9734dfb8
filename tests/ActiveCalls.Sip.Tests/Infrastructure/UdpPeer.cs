using System.Net;
using System.Net.Sockets;
using System.Text;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Tests.Infrastructure;

/// <summary>A scripted SIP peer: a bare UDP socket on loopback that reads and writes raw SIP text.</summary>
internal sealed class UdpPeer : IDisposable
{
    private readonly UdpClient _client = new(new IPEndPoint(IPAddress.Loopback, 0));

    public IPEndPoint EndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

    public int Port => EndPoint.Port;

    /// <summary>The next datagram, parsed; fails the test after <paramref name="timeout"/> (default 3 s).</summary>
    public async Task<(SipMessage Message, IPEndPoint From)> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(3));
        try
        {
            var result = await _client.ReceiveAsync(cts.Token);
            var message = SipMessageParser.Parse(result.Buffer) ?? throw new InvalidOperationException("keep-alive received");
            return (message, result.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("The peer received nothing in time.");
        }
    }

    public async Task<SipRequest> ReceiveRequestAsync(string method, TimeSpan? timeout = null)
    {
        var (message, _) = await ReceiveAsync(timeout);
        var request = Assert.IsType<SipRequest>(message);
        Assert.Equal(method, request.Method);
        return request;
    }

    public async Task<SipResponse> ReceiveResponseAsync(int status, TimeSpan? timeout = null)
    {
        var (message, _) = await ReceiveAsync(timeout);
        var response = Assert.IsType<SipResponse>(message);
        Assert.Equal(status, response.StatusCode);
        return response;
    }

    /// <summary>True when nothing arrives within <paramref name="window"/>.</summary>
    public async Task<bool> QuietForAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            await _client.ReceiveAsync(cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public void Send(SipMessage message, IPEndPoint to) => _client.Send(message.ToBytes(), to);

    public void Send(string text, IPEndPoint to) => _client.Send(Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\r\n")), to);

    public void Dispose() => _client.Dispose();
}
