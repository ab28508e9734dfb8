using Gateway.Xmpp.Core;
using Gateway.Xmpp.Sasl;
using Gateway.Xmpp.Transport;

namespace Gateway.Xmpp.Client;

/// <summary>Settings of a client-to-server (c2s) connection.</summary>
public sealed class XmppClientOptions : XmppConnectionOptions
{
    /// <summary>The account's bare JID, e.g. <c>gateway@example.com</c>.</summary>
    public Jid? Jid { get; set; }
    public string Password { get; set; } = "";
    /// <summary>The resource to bind. Keep it stable and unique per connection: a duplicate kicks the other session (<c>conflict</c>).</summary>
    public string Resource { get; set; } = "gateway";

    /// <summary>Where and how to connect, instead of <see cref="XmppConnectionOptions.Host"/> and
    /// <see cref="XmppConnectionOptions.Port"/>: <c>xmpp://host:port</c> (TCP), <c>xmpp://domain</c> (TCP to the domain's
    /// <c>_xmpp-client._tcp</c> SRV targets), <c>wss://host:port/path</c> (WebSocket, RFC 7395) or <c>https://host:port/path</c>
    /// (BOSH, XEP-0206). See <see cref="XmppEndpoint"/>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Where SRV records come from (DNS; tests put a fake here).</summary>
    internal ISrvResolver SrvResolver { get; set; } = DnsSrvResolver.Shared;

    public TlsOptions Tls { get; set; } = new();
    /// <summary>Refuse to continue when the server offers no STARTTLS.</summary>
    public bool RequireTls { get; set; } = true;
    /// <summary>Permit SASL PLAIN on an unencrypted stream. Only for tests of the refusal.</summary>
    public bool AllowPlainWithoutTls { get; set; }

    /// <summary>Use XEP-0198 (acks and resumption) when the server offers it.</summary>
    public bool EnableStreamManagement { get; set; } = true;

    /// <summary>Send initial presence with <see cref="PresencePriority"/> after binding. OnSIP routes PubSub notifications
    /// only to resources with non-negative priority.</summary>
    public bool SendInitialPresence { get; set; } = true;
    public int PresencePriority { get; set; }

    /// <summary>Shared SCRAM key cache, so a pool reconnecting at once derives each salted password once.</summary>
    public ScramKeyCache? ScramKeyCache { get; set; }

    /// <summary>A copy bound to another resource (each pooled connection has its own).</summary>
    public XmppClientOptions WithResource(string resource)
    {
        var copy = (XmppClientOptions)MemberwiseClone();
        copy.Resource = resource;
        return copy;
    }

    internal override void Validate()
    {
        base.Validate();
        if (Jid is null) throw new ArgumentException("Jid is required.");
        if (Jid.Local is null) throw new ArgumentException($"Jid '{Jid}' has no local part.");
        if (string.IsNullOrEmpty(Password)) throw new ArgumentException("Password is required.");
        if (string.IsNullOrWhiteSpace(Resource)) throw new ArgumentException("Resource is required.");
        if (PresencePriority is < -128 or > 127) throw new ArgumentException("PresencePriority must be between -128 and 127.");
        if (Endpoint is not null) XmppEndpoint.Parse(Endpoint);
    }
}
