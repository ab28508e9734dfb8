using System.Text;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Tests.Infrastructure;
using ActiveCalls.Sip.Transport;

namespace ActiveCalls.Sip.Tests.Transactions;

public class TransportLimitTests
{
    [Fact]
    public async Task MessagesOverTheDatagramLimitAreRefusedOnSendingAndDroppedOnReceipt()
    {
        await using var transport = new SipUdpTransport(new SipTransportOptions { BindAddress = "127.0.0.1", Port = 0, MaxDatagramSize = 1000 });
        var received = 0;
        transport.Start((_, _) => Interlocked.Increment(ref received));
        using var peer = new UdpPeer();

        var big = new SipRequest("MESSAGE", SipUri.Parse($"sip:peer@127.0.0.1:{peer.Port}"));
        foreach (var (n, v) in new[] { ("Via", $"SIP/2.0/UDP {transport.SentBy};branch=z9hG4bKbig"), ("From", "<sip:a@h>;tag=1"), ("To", "<sip:b@h>"), ("Call-ID", "big"), ("CSeq", "1 MESSAGE") })
            big.Headers.Add(n, v);
        big.SetBody(Encoding.UTF8.GetBytes(new string('x', 1200)), "text/plain");
        Assert.Throws<SipTransportException>(() => transport.Send(big, peer.EndPoint));

        peer.Send(big.ToString().Replace(transport.SentBy, $"127.0.0.1:{peer.Port}", StringComparison.Ordinal), transport.LocalEndPoint);
        big.SetBody(Encoding.UTF8.GetBytes("small"), "text/plain");
        peer.Send(big, transport.LocalEndPoint);
        for (int i = 0; i < 200 && Volatile.Read(ref received) == 0; i++) await Task.Delay(10, TestContext.Current.CancellationToken);
        Assert.Equal(1, Volatile.Read(ref received)); // only the small one
        Assert.Equal(2, transport.Received);
    }

    [Fact]
    public async Task TheAdvertisedHostIsTheBindAddressOrTheConfiguredOne()
    {
        await using var bound = new SipUdpTransport(new SipTransportOptions { BindAddress = "127.0.0.1", Port = 0 });
        await using var advertised = new SipUdpTransport(new SipTransportOptions { BindAddress = "127.0.0.1", Port = 0, AdvertisedHost = "sip.example.com" });
        Assert.Equal("127.0.0.1", bound.AdvertisedHost);
        Assert.Equal($"127.0.0.1:{bound.LocalEndPoint.Port}", bound.SentBy);
        Assert.Equal("sip.example.com", advertised.AdvertisedHost);
    }
}
