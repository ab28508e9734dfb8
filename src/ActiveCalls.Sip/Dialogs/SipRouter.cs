using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>Where an out-of-dialog request goes, and with which credentials.</summary>
/// <param name="OutboundProxy">The proxy to put in a loose Route header; null when the request goes straight to the URI's host.</param>
/// <param name="Domain">The configuration entry of the target's domain, if any (for credentials).</param>
/// <param name="Contact">The bound contact the request is retargeted to (its Request-URI), from <see cref="SipOptions.Contacts"/>.</param>
public sealed record SipRoute(SipUri? OutboundProxy, SipDomainOptions? Domain, SipUri? Contact = null);

/// <summary>
/// Routing of new requests: a static contact binding (<c>Sip:Contacts</c>); a configured domain's proxy (<c>Sip:Domains:&lt;domain&gt;:Proxy</c>); else the URI's
/// own host when it is an IP literal, names a port, or is a configured domain; else the default proxy; else no route.
/// </summary>
public sealed class SipRouter(SipOptions options)
{
    /// <summary>The route to <paramref name="target"/>, or null when none can be determined.</summary>
    public SipRoute? Resolve(SipUri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.IsSip) return null;
        options.Domains.TryGetValue(target.Host, out var domain);
        if (target.User is { Length: > 0 } user && options.Contacts.TryGetValue($"{user}@{target.Host}", out var binding))
            return new SipRoute(null, domain, ContactUri(user, binding));
        if (domain?.Proxy is { Length: > 0 } proxy) return new SipRoute(ProxyUri(proxy), domain);
        if (target.HostAddress is not null || target.Port is not null || domain is not null) return new SipRoute(null, domain);
        if (options.DefaultProxy is { Length: > 0 } fallback) return new SipRoute(ProxyUri(fallback), null);
        return null;
    }

    /// <summary>Credentials for a challenge from <paramref name="realm"/> on a request to <paramref name="targetDomain"/>.</summary>
    public (string Username, string Password)? CredentialsFor(string targetDomain, string realm)
    {
        if (options.Domains.TryGetValue(targetDomain, out var d) && Usable(d, realm)) return (d.Username!, d.Password ?? "");
        foreach (var entry in options.Domains.Values)
            if (entry.Realm is not null && Usable(entry, realm)) return (entry.Username!, entry.Password ?? "");
        if (options.Domains.TryGetValue(realm, out var byRealm) && Usable(byRealm, realm)) return (byRealm.Username!, byRealm.Password ?? "");
        return null;

        static bool Usable(SipDomainOptions d, string realm) =>
            d.Username is { Length: > 0 } && (d.Realm is null || string.Equals(d.Realm, realm, StringComparison.Ordinal));
    }

    private static SipUri ContactUri(string user, string hostPort) =>
        SipUri.Parse("sip:" + user + "@" + (hostPort.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? hostPort[4..] : hostPort));

    private static SipUri ProxyUri(string hostPort)
    {
        var text = hostPort.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? hostPort : "sip:" + hostPort;
        var uri = SipUri.Parse(text);
        uri.Parameters.Set("lr", null);
        return uri;
    }
}
