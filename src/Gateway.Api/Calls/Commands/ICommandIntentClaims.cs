namespace Gateway.Api.Calls.Commands;

/// <summary>What <see cref="ICommandIntentClaims.TryClaimAsync"/> found.</summary>
public enum IntentClaim
{
    /// <summary>This process may attempt the intent now; it releases the claim after the attempt.</summary>
    Claimed,
    /// <summary>The intent is no longer stored: carried out, or moot, by whoever attempted it last.</summary>
    Gone,
    /// <summary>Another replica is attempting it right now.</summary>
    HeldElsewhere,
}

/// <summary>
/// Makes an attempt at a command intent exclusive across every process that shares the call store, so a command is
/// never sent twice at once, nor again after another replica carried it out. One process alone needs nothing beyond
/// the runner's own lock (<see cref="LocalIntentClaims"/>); replicas on Redis claim with a lease
/// (<see cref="Store.RedisIntentClaims"/>), so a replica that dies mid-attempt does not hold the intent for ever.
/// </summary>
public interface ICommandIntentClaims
{
    ValueTask<IntentClaim> TryClaimAsync(string intentId, CancellationToken cancellationToken);

    ValueTask ReleaseAsync(string intentId, CancellationToken cancellationToken);
}

/// <summary>One process: the runner's lock already makes attempts exclusive, and its own list says what is stored.</summary>
internal sealed class LocalIntentClaims : ICommandIntentClaims
{
    public ValueTask<IntentClaim> TryClaimAsync(string intentId, CancellationToken cancellationToken) => ValueTask.FromResult(IntentClaim.Claimed);

    public ValueTask ReleaseAsync(string intentId, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
