using System.Collections.Concurrent;
using System.Text;
using ActiveCalls.Sip.Dialogs;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Sip.Tests.Dialogs;

/// <summary>A UA core on loopback with frozen (fake) time, a scripted peer phone, and recording observers.</summary>
internal sealed class UaHarness : IAsyncDisposable
{
    public const string PeerSdp = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

    public FakeTimeProvider Time { get; } = new();
    public SipOptions Options { get; }
    public SipUserAgent Ua { get; }
    public UdpPeer Peer { get; } = new();
    public Recorder Events { get; } = new();

    public UaHarness(Action<SipOptions>? configure = null)
    {
        Options = new SipOptions { BindAddress = "127.0.0.1", Port = 0 };
        configure?.Invoke(Options);
        Ua = new SipUserAgent(Options, Time);
        Ua.Start();
    }

    public string PeerUri(string user = "bob") => $"sip:{user}@127.0.0.1:{Peer.Port}";

    public Task<OutgoingInvite> InviteAsync(byte[]? body = null, string user = "bob")
    {
        var target = SipUri.Parse(PeerUri(user));
        return Ua.InviteAsync(new InviteParameters(target, new NameAddress(SipUri.Parse("sip:call-setup@example.com"), "Call Setup"),
            new NameAddress(target), body, body is null ? null : Sdp.ContentType, Ua.Router.Resolve(target)!), Events);
    }

    /// <summary>A response from the peer with a tag, its Contact, and optionally SDP and Record-Route.</summary>
    public SipResponse Reply(SipRequest request, int status, string tag = "peertag", string? sdp = null, params string[] recordRoutes)
    {
        var r = request.CreateResponse(status, toTag: tag);
        if (status is > 100 and < 300) r.Headers.Add("Contact", $"<sip:bob@127.0.0.1:{Peer.Port}>");
        foreach (var rr in recordRoutes) r.Headers.Add("Record-Route", rr);
        if (sdp is not null) r.SetBody(Encoding.UTF8.GetBytes(sdp), Sdp.ContentType);
        return r;
    }

    public void Send(SipMessage m) => Peer.Send(m, Ua.LocalEndPoint);

    /// <summary>A request from the peer inside <paramref name="dialog"/> (their From is our To and vice versa).</summary>
    public SipRequest InDialog(SipDialog dialog, string method, long cseq, string? sdp = null, string branch = "")
    {
        var r = new SipRequest(method, SipUri.Parse($"sip:call-setup@127.0.0.1:{Ua.LocalEndPoint.Port}"));
        r.Headers.Add("Via", $"SIP/2.0/UDP 127.0.0.1:{Peer.Port};branch={(branch.Length > 0 ? branch : "z9hG4bK" + Guid.NewGuid().ToString("N"))}");
        r.Headers.Add("Max-Forwards", "70");
        r.Headers.Add("From", dialog.RemoteAddress.ToString());
        r.Headers.Add("To", dialog.LocalAddress.ToString());
        r.Headers.Add("Call-ID", dialog.CallId);
        r.Headers.Add("CSeq", $"{cseq} {method}");
        r.Headers.Add("Contact", $"<sip:bob@127.0.0.1:{Peer.Port}>");
        if (sdp is not null) r.SetBody(Encoding.UTF8.GetBytes(sdp), Sdp.ContentType);
        return r;
    }

    public async ValueTask DisposeAsync()
    {
        await Ua.DisposeAsync();
        Peer.Dispose();
    }

    /// <summary>Records invite and dialog events as short strings, plus the objects.</summary>
    internal sealed class Recorder : IInviteObserver, IDialogObserver
    {
        public ConcurrentQueue<string> Log { get; } = new();
        public SipDialog? Dialog { get; private set; }
        public SipResponse? Final { get; private set; }

        public void OnProvisional(OutgoingInvite invite, SipResponse response) => Log.Enqueue($"provisional {response.StatusCode}");

        public void OnAnswered(OutgoingInvite invite, SipDialog dialog, SipResponse response)
        {
            Dialog = dialog;
            dialog.Observer = this;
            Final = response;
            Log.Enqueue($"answered {response.StatusCode}");
        }

        public void OnFailed(OutgoingInvite invite, SipResponse response)
        {
            Final = response;
            Log.Enqueue($"failed {response.StatusCode}{(response.IsLocal ? " local" : "")}");
        }

        public void OnByeReceived(SipDialog dialog) => Log.Enqueue("bye");

        /// <summary>What re-INVITEs are answered with (default: the dialog's current SDP).</summary>
        public Func<byte[], Task<ReInviteAnswer>>? ReInviteAnswer { get; set; }

        public Task<ReInviteAnswer> OnReInviteAsync(SipDialog dialog, byte[] offer)
        {
            Log.Enqueue("reinvited");
            return ReInviteAnswer?.Invoke(offer) ?? Task.FromResult(Sip.Dialogs.ReInviteAnswer.KeepCurrent);
        }

        public void OnLost(SipDialog dialog, string reason) => Log.Enqueue("lost");

        public async Task WaitForAsync(string entry)
        {
            for (int i = 0; i < 300 && !Log.Contains(entry); i++) await Task.Delay(10);
            Assert.True(Log.Contains(entry), $"expected '{entry}' in [{string.Join(", ", Log)}]");
        }
    }
}
