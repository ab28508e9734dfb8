using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Sasl;
using Gateway.Xmpp.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Xmpp.Client;

/// <summary>
/// A client-to-server connection. Negotiation is an ordered sequence, each step consuming the stream features:
/// STARTTLS, SASL, XEP-0198 resume (before bind), bind, XEP-0198 enable (after bind), initial presence.
/// </summary>
public sealed class XmppClient : XmppConnection
{
    private readonly XmppClientOptions _options;
    private readonly Jid _account;
    private readonly XmppEndpoint _endpoint;

    public XmppClient(XmppClientOptions options, ILogger<XmppClient>? logger = null, TimeProvider? timeProvider = null)
        : base(options, logger, timeProvider)
    {
        _options = options;
        _account = options.Jid!.Bare;
        _endpoint = options.Endpoint is { } endpoint ? XmppEndpoint.Parse(endpoint) : XmppEndpoint.Tcp(options.Host, options.Port);
    }

    /// <summary>The SASL mechanism the last negotiation used (e.g. <c>SCRAM-SHA-256</c>).</summary>
    public string? AuthenticationMechanism { get; private set; }

    /// <summary>The XMPP domain (server) of the account.</summary>
    public Jid ServerJid => new(null, _account.Domain);

    protected override Jid PingTarget => ServerJid;

    protected override string Remote => _endpoint.ToString();

    protected override async Task<IXmppTransport> ConnectTransportAsync(CancellationToken cancellationToken)
    {
        if (_endpoint.Kind == XmppTransportKind.WebSocket)
            return await WebSocketTransport.ConnectAsync(_endpoint.Uri!, _account.Domain, _options.Tls, _options.Limits, _options.ConnectTimeout, cancellationToken);
        if (_endpoint.Kind == XmppTransportKind.Bosh)
            return BoshTransport.Create(_endpoint.Uri!, _account.Domain, _options.Tls, _options.Limits, _options.ConnectTimeout);
        if (_endpoint.Port is { } port)
            return await TcpTransport.ConnectAsync(_endpoint.Host, port, _options.Limits, _options.ConnectTimeout, cancellationToken);

        // RFC 6120 §3.2.1: each target in turn until one answers.
        var targets = await new SrvLocator(_options.SrvResolver).LocateAsync(_endpoint.Host, cancellationToken);
        XmppConnectionLostException? last = null;
        foreach (var (host, targetPort) in targets)
        {
            try
            {
                return await TcpTransport.ConnectAsync(host, targetPort, _options.Limits, _options.ConnectTimeout, cancellationToken);
            }
            catch (XmppConnectionLostException e)
            {
                Logger.LogInformation("{Host}:{Port}, named by {Domain}'s SRV records, did not answer: {Reason}", host, targetPort, _endpoint.Host, e.Message);
                last = e;
            }
        }
        throw last!;
    }

    protected override bool AcceptsReplyFrom(Jid? requestTo, Jid? from)
    {
        // RFC 6120 §10.3 / Smack IQReplyFilter: a reply comes from where the request went; a request to no one (or to
        // our own account or server) is answered by the server on our behalf, with no from or one of our own addresses.
        if (requestTo is null || requestTo == _account || requestTo == ServerJid || requestTo == LocalJid)
            return from is null || from == _account || from == ServerJid || from == LocalJid;
        return from == requestTo;
    }

    protected override async Task<NegotiatedStream> NegotiateAsync(IXmppTransport transport, CancellationToken cancellationToken)
    {
        var features = await OpenStreamAsync(transport, cancellationToken);

        if (transport.CanStartTls && features.Element(Ns.Tls + "starttls") is not null)
        {
            await transport.SendAsync(new XElement(Ns.Tls + "starttls"), cancellationToken);
            var answer = await transport.ReadElementAsync(cancellationToken);
            if (answer.Name != Ns.Tls + "proceed") throw new XmppAuthenticationException("starttls-refused", answer.Name.LocalName);
            await transport.UpgradeToTlsAsync(_account.Domain, _options.Tls, cancellationToken);
            features = await OpenStreamAsync(transport, cancellationToken);
        }
        else if (_options.RequireTls && !transport.IsEncrypted)
        {
            throw new XmppAuthenticationException("encryption-required", $"{Remote} offers no TLS (no STARTTLS, not wss) and RequireTls is set.");
        }

        await AuthenticateAsync(transport, features, cancellationToken);
        features = await OpenStreamAsync(transport, cancellationToken);

        // Over BOSH the session itself survives a lost request (Prosody 0.12 cannot resume a BOSH session with XEP-0198
        // anyway: its mod_smacks moves the XML stream, which a BOSH session does not have).
        var smOffered = _options.EnableStreamManagement && !transport.RecoversLostRequests && features.Element(Ns.StreamManagement + "sm") is not null;
        IReadOnlyList<XElement> lost = [];
        if (smOffered && StreamManagement is { Resumable: true } previous && LocalJid is not null)
        {
            await transport.SendAsync(new XElement(Ns.StreamManagement + "resume",
                new XAttribute("h", previous.Inbound), new XAttribute("previd", previous.ResumptionId!)), cancellationToken);
            var answer = await transport.ReadElementAsync(cancellationToken);
            if (answer.Name == Ns.StreamManagement + "resumed" && uint.TryParse((string?)answer.Attribute("h"), out var h))
                return new NegotiatedStream(transport, LocalJid, previous, Resumed: true, previous.Resume(h), []);
            lost = previous.TakeUnacked(uint.TryParse((string?)answer.Attribute("h"), out var failedH) ? failedH : null);
            Logger.LogInformation("XEP-0198 resumption refused ({Answer}); {Count} unacknowledged stanzas are lost", answer.Name.LocalName, lost.Count);
        }

        // State from an earlier stream must not leak past this point: the bind IQ belongs to the new session (SMACK-706).
        var jid = await BindAsync(transport, features, cancellationToken);

        StreamManagementState? sm = null;
        if (smOffered)
        {
            await transport.SendAsync(new XElement(Ns.StreamManagement + "enable", new XAttribute("resume", "true")), cancellationToken);
            var answer = await transport.ReadElementAsync(cancellationToken);
            if (answer.Name == Ns.StreamManagement + "enabled")
            {
                var resumable = (string?)answer.Attribute("resume") is "true" or "1";
                sm = new StreamManagementState((string?)answer.Attribute("id"), resumable);
            }
            else Logger.LogWarning("The server refused XEP-0198: {Answer}", answer);
        }

        var first = new List<XElement>();
        if (_options.SendInitialPresence)
            first.Add(new XElement("presence", new XElement("priority", _options.PresencePriority)));
        return new NegotiatedStream(transport, jid, sm, Resumed: false, first, lost);
    }

    private async Task<XElement> OpenStreamAsync(IXmppTransport transport, CancellationToken ct)
    {
        await transport.OpenStreamAsync(new StreamOpening(Ns.Client.NamespaceName, _account.Domain, From: _account.ToString()), ct);
        var header = await transport.ReadStreamHeaderAsync(ct);
        if ((string?)header.Attribute("version") is not { } version || !version.StartsWith("1.", StringComparison.Ordinal))
            throw new XmppProtocolException("The server does not speak XMPP 1.0 streams.");
        var features = await transport.ReadElementAsync(ct);
        if (features.Name != Ns.Stream + "features") throw new XmppProtocolException($"Expected stream features, got <{features.Name.LocalName}/>.");
        return features;
    }

    private async Task AuthenticateAsync(IXmppTransport transport, XElement features, CancellationToken ct)
    {
        var offered = features.Element(Ns.Sasl + "mechanisms")?.Elements(Ns.Sasl + "mechanism").Select(m => m.Value.Trim()).ToArray() ?? [];
        var mechanism = SaslMechanismSelector.Select(offered, new SaslCredentials(_account.Local!, _options.Password),
            transport.IsEncrypted, _options.AllowPlainWithoutTls, _options.ScramKeyCache)
            ?? throw new XmppAuthenticationException("no-acceptable-mechanism", $"Offered: {string.Join(", ", offered)}");

        await transport.SendAsync(new XElement(Ns.Sasl + "auth", new XAttribute("mechanism", mechanism.Name),
            Encode(mechanism.GetInitialResponse())), ct);
        while (true)
        {
            var answer = await transport.ReadElementAsync(ct);
            switch (answer.Name.LocalName)
            {
                case "challenge" when answer.Name.Namespace == Ns.Sasl:
                    var response = mechanism.EvaluateChallenge(Decode(answer.Value));
                    await transport.SendAsync(new XElement(Ns.Sasl + "response", Encode(response)), ct);
                    break;
                case "success" when answer.Name.Namespace == Ns.Sasl:
                    mechanism.VerifySuccess(string.IsNullOrWhiteSpace(answer.Value) ? null : Decode(answer.Value));
                    AuthenticationMechanism = mechanism.Name;
                    return;
                case "failure" when answer.Name.Namespace == Ns.Sasl:
                    var condition = answer.Elements().FirstOrDefault(e => e.Name.LocalName != "text")?.Name.LocalName ?? "not-authorized";
                    throw new XmppAuthenticationException(condition, answer.Element(Ns.Sasl + "text")?.Value);
                default:
                    throw new XmppProtocolException($"Unexpected <{answer.Name.LocalName}/> during SASL.");
            }
        }
    }

    private async Task<Jid> BindAsync(IXmppTransport transport, XElement features, CancellationToken ct)
    {
        if (features.Element(Ns.Bind + "bind") is null) throw new XmppProtocolException("The server offers no resource binding.");
        var id = IqTracker.NewId();
        await transport.SendAsync(new XElement("iq", new XAttribute("type", "set"), new XAttribute("id", id),
            new XElement(Ns.Bind + "bind", new XElement(Ns.Bind + "resource", _options.Resource))), ct);
        var reply = await ReadReplyAsync(transport, id, ct);
        var bound = reply.Element(Ns.Bind + "bind")?.Element(Ns.Bind + "jid")?.Value;
        if (bound is null || !Jid.TryParse(bound, out var jid) || jid is null) throw new XmppProtocolException("Bind answered no JID.");

        // RFC 3921 sessions: only when the server requires one (RFC 6121 made it optional).
        if (features.Element(Ns.Session + "session") is { } session && session.Element(Ns.Session + "optional") is null)
        {
            var sessionId = IqTracker.NewId();
            await transport.SendAsync(new XElement("iq", new XAttribute("type", "set"), new XAttribute("id", sessionId),
                new XElement(Ns.Session + "session")), ct);
            await ReadReplyAsync(transport, sessionId, ct);
        }
        return jid;
    }

    private static async Task<XElement> ReadReplyAsync(IXmppTransport transport, string id, CancellationToken ct)
    {
        while (true)
        {
            var element = await transport.ReadElementAsync(ct);
            if (element.Name.LocalName != "iq" || (string?)element.Attribute("id") != id) continue;
            if ((string?)element.Attribute("type") == "error")
            {
                var error = StanzaError.FromStanza(element);
                if (error.Condition == "conflict") throw new XmppStreamErrorException("conflict", "resource conflict at bind", element);
                throw new XmppStanzaErrorException(error, element);
            }
            return element;
        }
    }

    private static string Encode(byte[] data) => data.Length == 0 ? "=" : Convert.ToBase64String(data);

    private static byte[] Decode(string text)
    {
        text = text.Trim();
        if (text is "" or "=") return [];
        try { return Convert.FromBase64String(text); }
        catch (FormatException e) { throw new XmppProtocolException("SASL data is not valid base64.", e); }
    }
}
