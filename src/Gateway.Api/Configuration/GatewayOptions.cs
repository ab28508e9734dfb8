using System.ComponentModel.DataAnnotations;
using Gateway.Xmpp.Framing;

namespace Gateway.Api.Configuration;

/// <summary><c>Gateway:Xmpp</c>: the XMPP account the gateway logs in with, the server, TLS trust and the connection pool.</summary>
public sealed class XmppOptions
{
    public const string SectionName = "Gateway:Xmpp";

    /// <summary>Bare JID of the gateway's account, e.g. <c>gateway@example.com</c>.</summary>
    [Required(ErrorMessage = "Gateway:Xmpp:Jid is required: the bare JID of the XMPP account the gateway logs in with (e.g. gateway@example.com).")]
    public string Jid { get; set; } = "";

    [Required(ErrorMessage = "Gateway:Xmpp:Password is required (set it with the environment variable Gateway__Xmpp__Password, not in a committed file).")]
    public string Password { get; set; } = "";

    /// <summary>Where and how to reach the XMPP server, in one setting: <c>xmpp://host:port</c> (TCP, STARTTLS),
    /// <c>xmpp://domain</c> (TCP to the domain's <c>_xmpp-client._tcp</c> SRV targets) or <c>wss://host:port/path</c>
    /// (XMPP over WebSocket). Takes the place of <see cref="Host"/> and <see cref="Port"/>; with neither set, the JID's
    /// domain is looked up by SRV.</summary>
    public string? Endpoint { get; set; }

    /// <summary>XMPP server host name or address (c2s, STARTTLS), when <see cref="Endpoint"/> is not set.</summary>
    public string Host { get; set; } = "";

    [Range(1, 65535, ErrorMessage = "Gateway:Xmpp:Port must be between 1 and 65535.")]
    public int Port { get; set; } = 5222;

    /// <summary>A CA (or pinned server) certificate trusted in addition to the system store, e.g. the dev stack's CA.</summary>
    public string? TrustedCertificatePath { get; set; }

    /// <summary>Name expected in the server certificate; defaults to the JID's domain.</summary>
    public string? TlsServerName { get; set; }

    [Range(1, 64, ErrorMessage = "Gateway:Xmpp:PoolSize must be between 1 and 64.")]
    public int PoolSize { get; set; } = 4;

    /// <summary>Names this replica in its connections' resources (<c>gw-{InstanceName}-{slot}</c>); the machine name by default.</summary>
    public string? InstanceName { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a command IQ waits for the component's answer. Must be shorter than <c>Gateway:Http:RequestTimeout</c>.</summary>
    public TimeSpan IqTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>What one inbound stanza may cost to read (bytes, depth, attributes, text, children). Anyone on the XMPP
    /// server can send the gateway a stanza: one past a limit is dropped alone, logged with its sender and counted.</summary>
    public StanzaLimits Limits { get; set; } = new();
}

/// <summary><c>Gateway:Components</c>: the JID of the Active-Calls command component (the events feature names its Auth
/// component and PubSub service in <c>Gateway:Events</c>).</summary>
public sealed class ComponentsOptions
{
    public const string SectionName = "Gateway:Components";

    /// <summary>The Active-Calls command component (nodes create, terminate, cancel, transfer).</summary>
    [Required(ErrorMessage = "Gateway:Components:Commands is required: the Active-Calls command component, e.g. commands.active-calls.xmpp.onsip.com.")]
    public string Commands { get; set; } = "";
}

/// <summary><c>Gateway:Http</c>: request limits of the REST API.</summary>
public sealed class HttpApiOptions
{
    public const string SectionName = "Gateway:Http";

    /// <summary>Whole-request budget. The IQ timeout fits inside it.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    [Range(256, 1_048_576, ErrorMessage = "Gateway:Http:MaxRequestBodyBytes must be between 256 and 1048576.")]
    public int MaxRequestBodyBytes { get; set; } = 8 * 1024;

    /// <summary>Sustained requests per second per API key (token bucket refill).</summary>
    [Range(1, 100_000, ErrorMessage = "Gateway:Http:RequestsPerSecond must be between 1 and 100000.")]
    public int RequestsPerSecond { get; set; } = 20;

    /// <summary>Burst size per API key (token bucket capacity).</summary>
    [Range(1, 100_000, ErrorMessage = "Gateway:Http:Burst must be between 1 and 100000.")]
    public int Burst { get; set; } = 40;

    /// <summary>Requests of one API key in flight at once.</summary>
    [Range(1, 10_000, ErrorMessage = "Gateway:Http:ConcurrentRequestsPerKey must be between 1 and 10000.")]
    public int ConcurrentRequestsPerKey { get; set; } = 16;

    /// <summary>What <c>Retry-After</c> says on a 503 that has no better estimate.</summary>
    public TimeSpan UnavailableRetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary><c>Gateway:Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "Gateway:Idempotency";

    /// <summary>How long a first response is kept for replay.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromHours(24);

    [Range(1, 10_000_000, ErrorMessage = "Gateway:Idempotency:MaxEntries must be between 1 and 10000000.")]
    public int MaxEntries { get; set; } = 100_000;
}

/// <summary><c>Gateway:Resilience</c>: the circuit breaker of the commands. Nothing is retried at this layer: the XMPP pool
/// moves a command that never reached a socket to another connection, and one that may have been sent is never resent.</summary>
public sealed class ResilienceOptions
{
    public const string SectionName = "Gateway:Resilience";

    [Range(0.01, 1.0, ErrorMessage = "Gateway:Resilience:BreakerFailureRatio must be between 0.01 and 1.")]
    public double BreakerFailureRatio { get; set; } = 0.5;

    [Range(2, 100_000, ErrorMessage = "Gateway:Resilience:BreakerMinimumThroughput must be at least 2.")]
    public int BreakerMinimumThroughput { get; set; } = 10;

    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Where calls are kept, for how long, and the times their state machine and command intents run on.</summary>
public sealed class CallsOptions
{
    public const string SectionName = "Gateway:Calls";

    /// <summary><c>Sqlite</c> (the default: calls, events, the stream log, idempotency keys and command intents survive a
    /// restart), <c>Memory</c> (bounded by <see cref="MaxCalls"/>, forgotten on restart) or <c>Redis</c> (shared by
    /// several replicas, see <c>Gateway:Redis</c>).</summary>
    public CallStoreKind Store { get; set; } = CallStoreKind.Sqlite;

    /// <summary>The SQLite file of the <c>Sqlite</c> store (relative to the content root), beside the webhook queue.</summary>
    public string DatabasePath { get; set; } = "data/calls.db";

    /// <summary>The <c>Memory</c> store's bound: past it the longest-ended calls are forgotten first, then the oldest live ones.</summary>
    [Range(10, 10_000_000, ErrorMessage = "Gateway:Calls:MaxCalls must be between 10 and 10000000.")]
    public int MaxCalls { get; set; } = 100_000;

    /// <summary>The <c>Memory</c> store keeps at most this many of a call's latest events.</summary>
    [Range(4, 100_000, ErrorMessage = "Gateway:Calls:MaxEventsPerCall must be between 4 and 100000.")]
    public int MaxEventsPerCall { get; set; } = 256;

    /// <summary>How long an ended call (and its events) stays readable: the call history.</summary>
    public TimeSpan EndedRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long call events carrying a call-setup-id nobody claimed are held before they are published as a
    /// call of their own (the create result may come after the first events; seed note [1]).</summary>
    public TimeSpan EarlyEventHoldTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After the caller answered and its setup leg ended, how long to wait for the callee leg before the call
    /// is ended as <c>callee-not-reached</c>.</summary>
    public TimeSpan CalleeLegGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A created call with no event at all after this long is ended as <c>setup-timeout</c>.</summary>
    public TimeSpan SetupTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long <c>DELETE</c> and transfer wait for the first attempt of their command before answering 202
    /// (the command is written down first and carried on in the background after that).</summary>
    public TimeSpan IntentAnswerWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The first delay before retrying a command intent that failed for a reason that may pass (the server or
    /// the component unreachable); it doubles, with jitter, up to <see cref="IntentMaxRetryDelay"/>.</summary>
    public TimeSpan IntentRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan IntentMaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    public Calls.State.CallTimings Timings => new(EarlyEventHoldTime, CalleeLegGrace, SetupTimeout);
}

public enum CallStoreKind
{
    Sqlite,
    Memory,
    /// <summary>Shared by every replica on one Redis (<c>Gateway:Redis</c>).</summary>
    Redis,
}

/// <summary>One API key: a name (for logs and partitions), the SHA-256 of the key, the SIP addresses it acts for and the
/// destinations it may call.</summary>
public sealed class ApiKeyDefinition
{
    public string Name { get; set; } = "";

    /// <summary>Lower- or upper-case hex SHA-256 of the key's UTF-8 bytes (64 characters); the key itself is never stored.</summary>
    public string Hash { get; set; } = "";

    /// <summary><c>alice@example.com</c> (one address), <c>*@example.com</c> (a domain) or <c>*</c> (everything).</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>What the key may call (<c>to</c> of a new call, <c>target</c> of a transfer): <c>*</c>,
    /// <c>bob@example.com</c>, <c>*@example.com</c> (named users, no phone numbers), <c>*@*</c> or a number prefix
    /// such as <c>1555*@example.com</c> (see <see cref="Auth.DestinationScope"/>). When empty,
    /// <see cref="Auth.DestinationScope.DefaultFor"/> the <see cref="Scopes"/>: the named users of the key's domains.</summary>
    public List<string> Destinations { get; set; } = [];

    /// <summary>The destination patterns in force: <see cref="Destinations"/>, or the default when there are none.</summary>
    public IReadOnlyList<string> EffectiveDestinations() => Destinations.Count > 0 ? Destinations : Auth.DestinationScope.DefaultFor(Scopes);
}

/// <summary><c>Gateway:ApiKeys</c>.</summary>
public sealed class ApiKeysOptions
{
    public const string SectionName = "Gateway";

    public List<ApiKeyDefinition> ApiKeys { get; set; } = [];
}
