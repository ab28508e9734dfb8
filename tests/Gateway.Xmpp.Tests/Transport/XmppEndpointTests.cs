using Gateway.Xmpp.Transport;

namespace Gateway.Xmpp.Tests.Transport;

/// <summary>One setting says how a client reaches its server.</summary>
public sealed class XmppEndpointTests
{
    [Fact]
    public void AnXmppUrlWithAPortIsTcpToThatHostAndPort()
    {
        var endpoint = XmppEndpoint.Parse("xmpp://xmpp.example.com:5223");

        Assert.Equal(XmppTransportKind.Tcp, endpoint.Kind);
        Assert.Equal("xmpp.example.com", endpoint.Host);
        Assert.Equal(5223, endpoint.Port);
    }

    [Fact]
    public void AnXmppUrlWithOnlyADomainLeavesThePortToSrv()
    {
        var endpoint = XmppEndpoint.Parse("xmpp://example.com");

        Assert.Equal(XmppTransportKind.Tcp, endpoint.Kind);
        Assert.Equal("example.com", endpoint.Host);
        Assert.Null(endpoint.Port);
        Assert.Equal("xmpp://example.com", endpoint.ToString());
    }

    [Theory]
    [InlineData("wss://chat.example.com/xmpp-websocket", 443)]
    [InlineData("wss://127.0.0.1:5281/xmpp-websocket", 5281)]
    [InlineData("ws://127.0.0.1:5280/xmpp-websocket", 5280)]
    public void AWebSocketUrlIsXmppOverWebSocket(string value, int port)
    {
        var endpoint = XmppEndpoint.Parse(value);

        Assert.Equal(XmppTransportKind.WebSocket, endpoint.Kind);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(new Uri(value), endpoint.Uri);
    }

    [Theory]
    [InlineData("https://chat.example.com/http-bind", 443)]
    [InlineData("http://127.0.0.1:5280/http-bind", 5280)]
    public void AnHttpUrlIsBosh(string value, int port)
    {
        var endpoint = XmppEndpoint.Parse(value);

        Assert.Equal(XmppTransportKind.Bosh, endpoint.Kind);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(new Uri(value), endpoint.Uri);
    }

    [Theory]
    [InlineData("example.com", "not an absolute URL")]
    [InlineData("xmpp://example.com/path", "host and port only")]
    [InlineData("ftp://example.com", "unknown scheme")]
    public void AnythingElseIsRefusedWithTheReason(string value, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => XmppEndpoint.Parse(value));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
