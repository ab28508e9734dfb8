using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Xmpp.Component;

/// <summary>
/// An XEP-0114 component stream: the <c>jabber:component:accept</c> header, a SHA-1 handshake over the stream id and
/// the secret, then the same reader, writer, IQ tracking, request handlers and reconnection as a client.
/// </summary>
public sealed class XmppComponent : XmppConnection
{
    private readonly XmppComponentOptions _options;
    private readonly Jid _jid;

    public XmppComponent(XmppComponentOptions options, ILogger<XmppComponent>? logger = null, TimeProvider? timeProvider = null)
        : base(options, logger, timeProvider)
    {
        _options = options;
        _jid = options.ComponentJid!;
    }

    public Jid ComponentJid => _jid;

    protected override Jid PingTarget => _options.ServerJid ?? ParentDomain(_jid);

    protected override bool AcceptsReplyFrom(Jid? requestTo, Jid? from) =>
        requestTo is null ? from is null || from == PingTarget : from == requestTo;

    /// <summary>A component has no resource to conflict over: a <c>conflict</c> means an old socket of ours is still
    /// registered, which the server will drop, so only a wrong secret is final.</summary>
    public override bool IsFatal(Exception error) =>
        error is XmppAuthenticationException or XmppStreamErrorException { Condition: "not-authorized" or "host-unknown" or "invalid-namespace" };

    protected override void PrepareOutbound(XElement stanza)
    {
        if (stanza.Attribute("from") is null) stanza.SetAttributeValue("from", _jid.ToString());
    }

    protected override async Task<NegotiatedStream> NegotiateAsync(IXmppTransport transport, CancellationToken cancellationToken)
    {
        await transport.OpenStreamAsync(new StreamOpening(Ns.Component.NamespaceName, _jid.ToString(), Lang: null, Version: false), cancellationToken);
        var header = await transport.ReadStreamHeaderAsync(cancellationToken);
        var streamId = (string?)header.Attribute("id") ?? throw new XmppProtocolException("The server's stream header has no id.");
        await transport.SendAsync(new XElement("handshake", Handshake(streamId, _options.Secret)), cancellationToken);
        var answer = await transport.ReadElementAsync(cancellationToken);
        if (answer.Name.LocalName != "handshake") throw new XmppProtocolException($"Expected <handshake/>, got <{answer.Name.LocalName}/>.");
        Logger.LogInformation("Component {Jid} connected to {Host}:{Port}", _jid, _options.Host, _options.Port);
        return new NegotiatedStream(transport, _jid, null, Resumed: false, [], []);
    }

    /// <summary>XEP-0114 §3: lower-case hex SHA-1 of the stream id followed by the secret.</summary>
    public static string Handshake(string streamId, string secret)
    {
#pragma warning disable CA5350 // XEP-0114 fixes SHA-1; the secret never crosses the wire in the clear.
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(streamId + secret)));
#pragma warning restore CA5350
    }

    private static Jid ParentDomain(Jid component)
    {
        var dot = component.Domain.IndexOf('.', StringComparison.Ordinal);
        return new Jid(null, dot > 0 ? component.Domain[(dot + 1)..] : component.Domain);
    }
}
