using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Gateway.Testing.Prosody;

namespace Gateway.Xmpp.Tests.Infrastructure;

/// <summary>
/// Proves the fixture's Prosody is configured the way the other real-server tests rely on, with raw
/// sockets only (no dependency on the XMPP library under test).
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class ProsodyFixtureTests(ProsodyFixture prosody)
{
    private static readonly XNamespace Streams = "http://etherx.jabber.org/streams";
    private static readonly XNamespace Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    private static readonly XNamespace Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";

    [Fact(Timeout = 30_000)]
    public async Task C2sStreamRequiresStartTls()
    {
        await using var socket = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.C2sPort);

        var (header, features) = await socket.OpenClientStreamAsync(prosody.Domain);

        Assert.Matches($"from=['\"]{Regex.Escape(prosody.Domain)}['\"]", header);
        var startTls = Assert.Single(features.Elements(Tls + "starttls"));
        Assert.NotNull(startTls.Element(Tls + "required"));
        Assert.Empty(features.Elements(Sasl + "mechanisms"));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(false, "SCRAM-SHA-256", "SCRAM-SHA-1")]
    [InlineData(true, "SCRAM-SHA-1", "SCRAM-SHA-256")]
    public async Task AfterStartTlsWithTheDevCaEachHostOffersItsScramMechanism(bool sha1Host, string offered, string notOffered)
    {
        var host = sha1Host ? prosody.Sha1Domain : prosody.Domain;
        await using var socket = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.C2sPort);

        var features = await socket.NegotiateTlsAsync(host, prosody);

        var mechanisms = features.Elements(Sasl + "mechanisms").Elements(Sasl + "mechanism").Select(m => m.Value).ToList();
        Assert.Contains(offered, mechanisms);
        Assert.DoesNotContain(notOffered, mechanisms);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RegisteredAccountAuthenticatesAndAWrongPasswordIsRefused(bool sha1Host)
    {
        var host = sha1Host ? prosody.Sha1Domain : prosody.Domain;
        var user = "user-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await prosody.RegisterAsync(user, "correct horse", host);

        Assert.Equal("success", await LoginAsync(host, user, "correct horse"));
        Assert.Equal("failure", await LoginAsync(host, user, "wrong password"));
        Assert.Equal("failure", await LoginAsync(host, "nobody-" + user, "correct horse"));
    }

    [Fact(Timeout = 30_000)]
    public async Task StanzaOverTheSizeLimitIsRefused()
    {
        var user = "big-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await prosody.RegisterAsync(user, "pw");
        await using var socket = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.C2sPort);
        await socket.NegotiateTlsAsync(prosody.Domain, prosody);
        Assert.Equal("success", await socket.AuthenticatePlainAsync(user, "pw"));
        await socket.OpenClientStreamAsync(prosody.Domain);

        await socket.SendAsync($"<message to='{user}@{prosody.Domain}'><body>{new string('x', 1024 * 1024)}</body></message>");

        var error = await socket.ReadUntilAsync(new Regex("<stream:error>.*?</stream:error>", RegexOptions.Singleline));
        Assert.Contains("policy-violation", error, StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("commands.active-calls.")]
    [InlineData("commands.auth.")]
    [InlineData("pubsub.active-calls.")]
    public async Task ComponentHandshakeSucceedsWithTheSecretAndFailsWithoutIt(string prefix)
    {
        var component = prefix + prosody.Domain;

        Assert.Equal("<handshake/>", await ComponentHandshakeAsync(component, prosody.ComponentSecret));
        Assert.Contains("not-authorized", await ComponentHandshakeAsync(component, "not-the-secret"), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task AfterRestartTheSamePortsAnswerAndAccountsAreKept()
    {
        var user = "survivor-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await prosody.RegisterAsync(user, "pw");
        var (c2sPort, componentPort) = (prosody.C2sPort, prosody.ComponentPort);
        await using var before = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.C2sPort);
        await before.OpenClientStreamAsync(prosody.Domain);

        await prosody.RestartAsync();

        // The old connection was closed by the server going away.
        Assert.True(await before.IsClosedByPeerAsync());
        Assert.Equal((c2sPort, componentPort), (prosody.C2sPort, prosody.ComponentPort));
        Assert.True(prosody.IsRunning);
        Assert.Equal("success", await LoginAsync(prosody.Domain, user, "pw"));
        Assert.Equal("<handshake/>", await ComponentHandshakeAsync(prosody.ActiveCallsComponent, prosody.ComponentSecret));
    }

    private async Task<string> LoginAsync(string host, string user, string password)
    {
        await using var socket = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.C2sPort);
        await socket.NegotiateTlsAsync(host, prosody);
        return await socket.AuthenticatePlainAsync(user, password);
    }

    private async Task<string> ComponentHandshakeAsync(string component, string secret)
    {
        await using var socket = await RawXmppSocket.ConnectAsync(prosody.Host, prosody.ComponentPort);
        await socket.SendAsync(
            $"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='{component}'>");
        var header = await socket.ReadUntilAsync(new Regex("<stream:stream[^>]*>"));
        var streamId = Regex.Match(header, "\\sid=['\"]([^'\"]+)['\"]").Groups[1].Value;
        Assert.NotEmpty(streamId);

        // XEP-0114: hex(SHA-1(stream id + secret)), lower case. SHA-1 is what the protocol defines.
#pragma warning disable CA5350
        var digest = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(streamId + secret)));
#pragma warning restore CA5350
        await socket.SendAsync($"<handshake>{digest}</handshake>");
        return await socket.ReadUntilAsync(new Regex("<handshake\\s*/>|<handshake></handshake>|<stream:error>.*?</stream:error>", RegexOptions.Singleline));
    }

    /// <summary>Just enough XMPP over a raw socket to check the server's configuration.</summary>
    internal sealed class RawXmppSocket : IAsyncDisposable
    {
        private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);
        private readonly TcpClient _client;
        private readonly StringBuilder _received = new();
        private Stream _stream;
        private Decoder _decoder = Encoding.UTF8.GetDecoder();

        private RawXmppSocket(TcpClient client)
        {
            _client = client;
            _stream = client.GetStream();
        }

        public static async Task<RawXmppSocket> ConnectAsync(string host, int port)
        {
            var client = new TcpClient();
            await client.ConnectAsync(host, port, TestContext.Current.CancellationToken);
            return new RawXmppSocket(client);
        }

        public async Task SendAsync(string xml)
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(xml), TestContext.Current.CancellationToken);
            await _stream.FlushAsync(TestContext.Current.CancellationToken);
        }

        /// <summary>Sends a c2s stream header; returns the server's header and its stream features.</summary>
        public async Task<(string Header, XElement Features)> OpenClientStreamAsync(string host)
        {
            await SendAsync(
                $"<?xml version='1.0'?><stream:stream to='{host}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
            var header = await ReadUntilAsync(new Regex("<stream:stream[^>]*>"));
            var features = await ReadUntilAsync(new Regex("<stream:features>.*?</stream:features>|<stream:features/>", RegexOptions.Singleline));
            return (header, ParseWithStreamPrefix(features));
        }

        /// <summary>STARTTLS, validating the server certificate against the fixture's dev CA and host name; returns the new features.</summary>
        public async Task<XElement> NegotiateTlsAsync(string host, ProsodyFixture prosody)
        {
            await OpenClientStreamAsync(host);
            await SendAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
            Assert.Matches("<proceed", await ReadUntilAsync(new Regex("<proceed[^>]*/>|<failure[^>]*/>")));

            var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.Add(prosody.LoadCaCertificate());
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = host, CertificateChainPolicy = policy },
                TestContext.Current.CancellationToken);
            _stream = tls;
            _decoder = Encoding.UTF8.GetDecoder();
            return (await OpenClientStreamAsync(host)).Features;
        }

        /// <summary>SASL PLAIN (allowed only over TLS); returns "success" or "failure".</summary>
        public async Task<string> AuthenticatePlainAsync(string user, string password)
        {
            var initial = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
            await SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{initial}</auth>");
            var answer = await ReadUntilAsync(new Regex("<success[^>]*/>|<success[^>]*>.*?</success>|<failure[^>]*>.*?</failure>", RegexOptions.Singleline));
            return Regex.Match(answer, "^<(\\w+)").Groups[1].Value;
        }

        /// <summary>Reads until <paramref name="pattern"/> matches what has arrived; consumes and returns the match.</summary>
        public async Task<string> ReadUntilAsync(Regex pattern)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(ReadTimeout);
            var buffer = new byte[8192];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            while (true)
            {
                var match = pattern.Match(_received.ToString());
                if (match.Success)
                {
                    _received.Remove(0, match.Index + match.Length);
                    return match.Value;
                }

                int read;
                try
                {
                    read = await _stream.ReadAsync(buffer, timeout.Token);
                }
                catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"no match for {pattern} within {ReadTimeout.TotalSeconds:0}s; received: {_received}");
                }

                if (read == 0)
                {
                    throw new IOException($"connection closed before {pattern} arrived; received: {_received}");
                }

                var count = _decoder.GetChars(buffer, 0, read, chars, 0);
                _received.Append(chars, 0, count);
            }
        }

        /// <summary>True when the server closes the connection (after any final bytes) within the read timeout.</summary>
        public async Task<bool> IsClosedByPeerAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(ReadTimeout);
            var buffer = new byte[8192];
            try
            {
                while (await _stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                }

                return true;
            }
            catch (IOException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            _client.Dispose();
        }

        private static XElement ParseWithStreamPrefix(string fragment) =>
            XElement.Parse(fragment.Replace("<stream:features", $"<stream:features xmlns:stream='{Streams.NamespaceName}'", StringComparison.Ordinal));
    }
}
