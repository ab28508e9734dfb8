using ActiveCalls.Sip.Transactions;
using ActiveCalls.Sip.Transport;

namespace ActiveCalls.Sip;

/// <summary>
/// Configuration section <c>Sip</c>: the UDP socket, the RFC 3261 timers, how requests are routed and
/// authenticated per domain, and the call-control engine's knobs.
/// </summary>
/// <example>
/// <code>
/// "Sip": {
///   "BindAddress": "0.0.0.0", "Port": 5060,
///   "Domains": { "example.com": { "Proxy": "pbx.example.com:5060", "Username": "call-setup", "Password": "…" } },
///   "RingTimeout": "00:00:30"
/// }
/// </code>
/// </example>
public sealed class SipOptions
{
    public const string SectionName = "Sip";

    /// <summary>Local address to bind (default all IPv4 interfaces).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>Local UDP port (0 picks a free one).</summary>
    public int Port { get; set; } = 5060;

    /// <summary>Host written in Via and Contact; default the bind address (or the first non-loopback IPv4 address).</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Largest datagram sent or accepted.</summary>
    public int MaxDatagramSize { get; set; } = 65507;

    /// <summary>The UDP socket's receive buffer in bytes (0 = the system default; the kernel caps it).</summary>
    public int ReceiveBufferSize { get; set; } = SipUdpTransport.DefaultReceiveBufferSize;

    public TimeSpan T1 { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan T2 { get; set; } = TimeSpan.FromSeconds(4);

    public TimeSpan T4 { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Timer D (≥ 32 s over UDP per RFC 3261).</summary>
    public TimeSpan TimerD { get; set; } = TimeSpan.FromSeconds(32);

    /// <summary>How long each party may ring before the engine CANCELs the INVITE.</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The user part of the call-setup identity, <c>sip:call-setup@&lt;domain&gt;</c> as OnSIP.</summary>
    public string CallSetupUser { get; set; } = "call-setup";

    /// <summary>The display name of the call-setup identity.</summary>
    public string CallSetupDisplayName { get; set; } = "Call Setup";

    /// <summary>The domain of the call-setup identity; default the domain of the <c>from</c> address.</summary>
    public string? CallSetupDomain { get; set; }

    /// <summary>Sent in User-Agent.</summary>
    public string UserAgent { get; set; } = "ActiveCalls-Reference/1.0";

    /// <summary>The answer to an INVITE that is not part of a call we set up (a 3PCC controller takes no calls).</summary>
    public int UnsolicitedInviteStatus { get; set; } = 403;

    /// <summary>Per-domain routing and credentials (<c>Sip:Domains:&lt;domain&gt;:Proxy</c> …). A domain listed here is
    /// also "local": its users get a leg of their own published when they are called.</summary>
    public Dictionary<string, SipDomainOptions> Domains { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>More domains whose users get their own legs published, without routing settings.</summary>
    public List<string> LocalDomains { get; set; } = [];

    /// <summary>Static location bindings, as a registrar would hold them: <c>user@domain</c> → <c>host:port</c> of the phone.
    /// A request to a bound address is sent to the phone with that Request-URI, its To header keeping the address
    /// (RFC 3261 §16.5 retargeting). The demo stack and the tests bind their sipp phones this way.</summary>
    public Dictionary<string, string> Contacts { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Where requests for a domain with no entry and no explicit port go (<c>host:port</c>); none when null.</summary>
    public string? DefaultProxy { get; set; }

    /// <summary>RFC 4028 session timers on the engine's dialogs (<c>Sip:SessionTimers</c>).</summary>
    public SessionTimerOptions SessionTimers { get; set; } = new();

    /// <summary>What is wrong with these options (empty when nothing); the user agent refuses to start otherwise.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Port is < 0 or > 65535) problems.Add("Sip:Port must be 0-65535.");
        problems.AddRange(SessionTimers.Validate());
        return problems;
    }

    internal SipTransportOptions TransportOptions => new()
    {
        BindAddress = BindAddress,
        Port = Port,
        AdvertisedHost = AdvertisedHost,
        MaxDatagramSize = MaxDatagramSize,
        ReceiveBufferSize = ReceiveBufferSize,
    };

    internal SipTimerOptions TimerOptions => new() { T1 = T1, T2 = T2, T4 = T4, TimerD = TimerD };

    /// <summary>True when users of <paramref name="domain"/> get their own legs published.</summary>
    public bool IsLocalDomain(string domain) =>
        Domains.ContainsKey(domain) || LocalDomains.Contains(domain, StringComparer.OrdinalIgnoreCase);
}

/// <summary>One domain's routing and credentials.</summary>
public sealed class SipDomainOptions
{
    /// <summary>Outbound proxy for this domain, <c>host[:port]</c>; requests to the domain go there with a loose
    /// Route to it. Null: the domain itself (A lookup, port 5060) unless the URI names a port.</summary>
    public string? Proxy { get; set; }

    /// <summary>Digest user name used when the proxy or a phone challenges (401/407).</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Only answer challenges from this realm with these credentials (null: any realm).</summary>
    public string? Realm { get; set; }
}

/// <summary>
/// RFC 4028 session timers (<c>Sip:SessionTimers</c>). The engine offers them on every INVITE it sends
/// (<c>Supported: timer</c>, <c>Session-Expires: SessionExpires;refresher=uac</c>, <c>Min-SE: MinSE</c>), refreshes
/// at half the negotiated interval when it is the refresher, and sends BYE when a refresh fails or the far end's
/// refresh does not come, so that a phone is not left in a call nobody controls any more.
/// </summary>
public sealed class SessionTimerOptions
{
    /// <summary>The RFC's floor for both values (RFC 4028 §4: Min-SE "MUST NOT be less than 90 seconds"); lower values
    /// are accepted for tests.</summary>
    public static readonly TimeSpan RfcMinimum = TimeSpan.FromSeconds(90);

    /// <summary>Offer and run session timers (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The session interval asked for in Session-Expires (default 30 min, the RFC's recommendation).</summary>
    public TimeSpan SessionExpires { get; set; } = TimeSpan.FromSeconds(1800);

    /// <summary>The smallest interval accepted (Min-SE; a peer's request below it is answered 422). Default 90 s.</summary>
    public TimeSpan MinSE { get; set; } = RfcMinimum;

    internal int SessionExpiresSeconds => (int)SessionExpires.TotalSeconds;

    internal int MinSESeconds => (int)MinSE.TotalSeconds;

    /// <summary>Whole seconds (the headers carry delta-seconds), at least 1 s, and SessionExpires ≥ MinSE.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Enabled) yield break;
        foreach (var (name, value) in new[] { (nameof(SessionExpires), SessionExpires), (nameof(MinSE), MinSE) })
        {
            if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromSeconds(int.MaxValue / 2) || value.Ticks % TimeSpan.TicksPerSecond != 0)
                yield return $"Sip:SessionTimers:{name} must be a whole number of seconds, at least 1 s (the RFC asks for 90 s or more).";
        }
        if (SessionExpires < MinSE) yield return "Sip:SessionTimers:SessionExpires must not be less than Sip:SessionTimers:MinSE.";
    }
}
