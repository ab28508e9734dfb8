using System.ComponentModel.DataAnnotations;

namespace Gateway.Api.Replicas;

/// <summary><c>Gateway:Redis</c>: the Redis that replicas share when <c>Gateway:Calls:Store</c> is <c>Redis</c>.</summary>
public sealed class RedisOptions
{
    public const string SectionName = "Gateway:Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>redis:6379,password=…</c>.</summary>
    public string Configuration { get; set; } = "";

    /// <summary>Prefixes every key, so several gateways (or tests) can share one Redis.</summary>
    [RegularExpression("^[A-Za-z0-9:_.-]{0,64}$", ErrorMessage = "Gateway:Redis:KeyPrefix may hold letters, digits and : _ . - (at most 64).")]
    public string KeyPrefix { get; set; } = "acg:";

    /// <summary>How long the subscription holder's lease lasts without a renewal: a dead holder is replaced within about
    /// this long. It is renewed every third of it.</summary>
    public TimeSpan LeaseTime { get; set; } = TimeSpan.FromSeconds(6);
}
