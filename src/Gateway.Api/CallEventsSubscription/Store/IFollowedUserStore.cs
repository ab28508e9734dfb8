namespace Gateway.Api.CallEventsSubscription.Store;

/// <summary>A followed user added through <c>/followed-users</c>, with its web password in clear (a store keeps it
/// encrypted at rest).</summary>
public sealed record StoredFollowedUser(string Address, string Password, DateTimeOffset AddedAt);

/// <summary>The followed users added through the admin API (those of the configuration are not stored). Addresses are
/// <c>user@domain</c> as <see cref="Calls.SipUri.AddressOf"/> normalises them.</summary>
public interface IFollowedUserStore
{
    Task<IReadOnlyList<StoredFollowedUser>> ListAsync(CancellationToken cancellationToken);

    /// <summary>False when the address is stored already.</summary>
    Task<bool> AddAsync(StoredFollowedUser user, CancellationToken cancellationToken);

    /// <summary>False when the address is not stored.</summary>
    Task<bool> SetPasswordAsync(string address, string password, CancellationToken cancellationToken);

    /// <summary>False when the address is not stored.</summary>
    Task<bool> RemoveAsync(string address, CancellationToken cancellationToken);
}
