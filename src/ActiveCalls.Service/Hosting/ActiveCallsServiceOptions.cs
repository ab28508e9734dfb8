using System.ComponentModel.DataAnnotations;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;

namespace ActiveCalls.Service.Hosting;

/// <summary>Configuration section <c>ActiveCalls</c>. Validated at start-up.</summary>
public sealed class ActiveCallsServiceOptions : IValidatableObject
{
    public const string SectionName = "ActiveCalls";

    /// <summary>The XMPP domain the components live under: <c>commands.active-calls.{Domain}</c>, <c>commands.auth.{Domain}</c>,
    /// <c>pubsub.active-calls.{Domain}</c>.</summary>
    [Required] public string Domain { get; set; } = "";

    /// <summary>The XMPP server's component listener (XEP-0114).</summary>
    [Required] public string XmppHost { get; set; } = "127.0.0.1";
    [Range(1, 65535)] public int ComponentPort { get; set; } = 5347;
    /// <summary>The shared secret of the three component entries in the server's configuration.</summary>
    [Required] public string ComponentSecret { get; set; } = "";

    /// <summary>JSON file of SIP users: address, password, owner (see <c>users.dev.json</c>).</summary>
    [Required] public string UsersFile { get; set; } = "";

    /// <summary>How long an <c>authorize-plain</c> grant lasts (OnSIP: one hour).</summary>
    public TimeSpan AuthorizationLifetime { get; set; } = TimeSpan.FromHours(1);
    /// <summary>How long a multi-stage command session waits for its next stage.</summary>
    public TimeSpan CommandSessionLifetime { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Subscriptions one JID may hold on one node (OnSIP: 10).</summary>
    [Range(1, 1000)] public int MaxSubscriptionsPerNode { get; set; } = 10;
    /// <summary>Longest subscription lease granted; longer <c>pubsub#expire</c> requests are shortened to it.</summary>
    public TimeSpan MaxSubscriptionLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>What one inbound stanza may cost to read. Anyone with an account on the XMPP server can address the
    /// components: a stanza past a limit is dropped alone (an IQ request gets <c>policy-violation</c>), logged and counted.</summary>
    public StanzaLimits Limits { get; set; } = new();

    /// <summary>Where the service's state is persisted (section <c>ActiveCalls:Storage</c>).</summary>
    public StorageOptions Storage { get; set; } = new();

    public Jid CommandsJid => new(null, "commands.active-calls." + Domain);
    public Jid AuthJid => new(null, "commands.auth." + Domain);
    public Jid PubSubJid => new(null, "pubsub.active-calls." + Domain);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Jid.TryParse(Domain, out var domain) || domain is null || domain.Local is not null || domain.Resource is not null)
            yield return new ValidationResult($"Domain '{Domain}' is not a bare XMPP domain.", [nameof(Domain)]);
        if (AuthorizationLifetime <= TimeSpan.Zero) yield return new ValidationResult("AuthorizationLifetime must be positive.", [nameof(AuthorizationLifetime)]);
        if (CommandSessionLifetime <= TimeSpan.Zero) yield return new ValidationResult("CommandSessionLifetime must be positive.", [nameof(CommandSessionLifetime)]);
        if (string.IsNullOrWhiteSpace(Storage.DatabasePath)) yield return new ValidationResult("Storage:DatabasePath must be set.", [nameof(Storage)]);
        if (MaxSubscriptionLifetime <= TimeSpan.Zero) yield return new ValidationResult("MaxSubscriptionLifetime must be positive.", [nameof(MaxSubscriptionLifetime)]);
    }
}

/// <summary>Section <c>ActiveCalls:Storage</c>.</summary>
public sealed class StorageOptions
{
    /// <summary>The SQLite file holding the calls' SIP state, the published items, the subscriptions and the authorisations
    /// (<see cref="Storage.ServiceDatabase"/>). Relative paths resolve against the content root. One service per file.</summary>
    public string DatabasePath { get; set; } = "data/active-calls.db";
}
