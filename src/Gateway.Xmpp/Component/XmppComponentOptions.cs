using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Component;

/// <summary>Settings of an XEP-0114 external component connection.</summary>
public sealed class XmppComponentOptions : XmppConnectionOptions
{
    public XmppComponentOptions() => Port = 5347;

    /// <summary>The component's address, e.g. <c>commands.active-calls.example.com</c>.</summary>
    public Jid? ComponentJid { get; set; }
    /// <summary>The shared secret configured on the server for this component.</summary>
    public string Secret { get; set; } = "";
    /// <summary>Where liveness pings go; defaults to the component's parent domain.</summary>
    public Jid? ServerJid { get; set; }

    internal override void Validate()
    {
        base.Validate();
        if (ComponentJid is null || ComponentJid.Local is not null || ComponentJid.Resource is not null)
            throw new ArgumentException("ComponentJid must be a bare domain such as commands.example.com.");
        if (string.IsNullOrEmpty(Secret)) throw new ArgumentException("Secret is required.");
    }
}
