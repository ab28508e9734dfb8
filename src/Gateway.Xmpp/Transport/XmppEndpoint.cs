namespace Gateway.Xmpp.Transport;

/// <summary>How a client reaches its server, from one setting:
/// <list type="bullet">
/// <item><c>xmpp://host:port</c> — TCP to that host and port (STARTTLS);</item>
/// <item><c>xmpp://domain</c> — TCP to the servers the domain's <c>_xmpp-client._tcp</c> SRV records name (RFC 6120 §3.2),
/// or the domain itself on 5222 when it has none;</item>
/// <item><c>wss://host:port/path</c> (or <c>ws://</c>) — XMPP over WebSocket (RFC 7395);</item>
/// <item><c>https://host:port/path</c> (or <c>http://</c>) — BOSH (XEP-0124, XEP-0206).</item>
/// </list></summary>
public sealed record XmppEndpoint
{
    private XmppEndpoint(XmppTransportKind kind, string host, int? port, Uri? uri)
    {
        Kind = kind;
        Host = host;
        Port = port;
        Uri = uri;
    }

    public XmppTransportKind Kind { get; }

    /// <summary>The host (TCP) or the domain whose SRV records are looked up (when <see cref="Port"/> is null).</summary>
    public string Host { get; }

    /// <summary>The TCP port; null when it is to be found by SRV.</summary>
    public int? Port { get; }

    /// <summary>The WebSocket or BOSH URL.</summary>
    public Uri? Uri { get; }

    public static XmppEndpoint Tcp(string host, int port) => new(XmppTransportKind.Tcp, host, port, null);

    /// <exception cref="ArgumentException">the value is not one of the forms above.</exception>
    public static XmppEndpoint Parse(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new ArgumentException($"XMPP endpoint '{value}' is not an absolute URL (xmpp://host[:port], wss://host[:port]/path, https://host[:port]/path).");
        return uri.Scheme switch
        {
            "xmpp" when uri.AbsolutePath is "" or "/" => new(XmppTransportKind.Tcp, uri.IdnHost, uri.IsDefaultPort ? null : uri.Port, null),
            "xmpp" => throw new ArgumentException($"XMPP endpoint '{value}': an xmpp:// endpoint names a host and port only."),
            "ws" or "wss" => new(XmppTransportKind.WebSocket, uri.IdnHost, uri.Port, uri),
            "http" or "https" => new(XmppTransportKind.Bosh, uri.IdnHost, uri.Port, uri),
            _ => throw new ArgumentException($"XMPP endpoint '{value}': unknown scheme '{uri.Scheme}' (xmpp, ws, wss, http or https)."),
        };
    }

    public override string ToString() => Uri?.ToString() ?? (Port is { } port ? $"xmpp://{Host}:{port}" : $"xmpp://{Host}");
}

public enum XmppTransportKind
{
    Tcp,
    WebSocket,
    Bosh,
}
