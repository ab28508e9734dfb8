using System.Collections.Concurrent;
using System.Net;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Tests.Infrastructure;
using ActiveCalls.Sip.Transactions;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Sip.Tests.Transactions;

/// <summary>The transaction layer on a real loopback socket with fake time, and a scripted peer.</summary>
internal sealed class TransactionHarness : IAsyncDisposable
{
    public FakeTimeProvider Time { get; } = new();
    public SipUdpTransport Transport { get; }
    public SipTransactionLayer Layer { get; }
    public UdpPeer Peer { get; } = new();
    public SipTimerOptions Timers { get; } = new() { TimerD = TimeSpan.FromSeconds(32) };
    public ConcurrentQueue<ServerTransaction> Requests { get; } = new();
    public ConcurrentQueue<SipRequest> Acks { get; } = new();
    public ConcurrentQueue<SipResponse> Strays { get; } = new();

    public TransactionHarness(Action<ServerTransaction>? onRequest = null)
    {
        Transport = new SipUdpTransport(new SipTransportOptions { BindAddress = "127.0.0.1", Port = 0 });
        Layer = new SipTransactionLayer(Transport, Timers, Time);
        Layer.RequestReceived = tx =>
        {
            Requests.Enqueue(tx);
            onRequest?.Invoke(tx);
        };
        Layer.AckReceived = (ack, _) => Acks.Enqueue(ack);
        Layer.StrayResponse = (r, _) => Strays.Enqueue(r);
        Transport.Start(Layer.OnMessage);
    }

    public IPEndPoint StackEndPoint => Transport.LocalEndPoint;

    /// <summary>A request from the stack to the peer.</summary>
    public SipRequest Outgoing(string method, string? branch = null, long cseq = 1)
    {
        var r = new SipRequest(method, SipUri.Parse($"sip:peer@127.0.0.1:{Peer.Port}"));
        r.Headers.Add("Via", $"SIP/2.0/UDP {Transport.SentBy};branch={branch ?? SipTransactionLayer.NewBranch()};rport");
        r.Headers.Add("Max-Forwards", "70");
        r.Headers.Add("From", "<sip:stack@127.0.0.1>;tag=s1");
        r.Headers.Add("To", "<sip:peer@127.0.0.1>");
        r.Headers.Add("Call-ID", "tx-" + Guid.NewGuid().ToString("N"));
        r.Headers.Add("CSeq", $"{cseq} {method}");
        return r;
    }

    /// <summary>A request from the peer to the stack, as raw text.</summary>
    public string Incoming(string method, string branch, string callId = "in-1", long cseq = 1, string cseqMethod = "", string toTag = "") =>
        $"{method} sip:stack@127.0.0.1:{StackEndPoint.Port} SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP 127.0.0.1:{Peer.Port};branch={branch}\r\n" +
        "Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=p1\r\n" +
        $"To: <sip:stack@127.0.0.1>{(toTag.Length > 0 ? ";tag=" + toTag : "")}\r\nCall-ID: {callId}\r\nCSeq: {cseq} {(cseqMethod.Length > 0 ? cseqMethod : method)}\r\nContent-Length: 0\r\n\r\n";

    /// <summary>Waits (real time) until <paramref name="condition"/> holds.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 300 && !condition(); i++) await Task.Delay(10, TestContext.Current.CancellationToken);
        Assert.True(condition(), what);
    }

    public async ValueTask DisposeAsync()
    {
        Layer.AbortAll();
        await Transport.DisposeAsync();
        Peer.Dispose();
    }
}
