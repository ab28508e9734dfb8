using System.Collections.Concurrent;

namespace Gateway.Api.CallEventsSubscription.Store;

/// <summary>With <c>Gateway:Calls:Store=Memory</c>: the added users live as long as the process (nothing is written, so
/// nothing needs encrypting).</summary>
internal sealed class InMemoryFollowedUserStore : IFollowedUserStore
{
    private readonly ConcurrentDictionary<string, StoredFollowedUser> _users = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<StoredFollowedUser>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<StoredFollowedUser>>([.. _users.Values.OrderBy(u => u.AddedAt).ThenBy(u => u.Address, StringComparer.Ordinal)]);

    public Task<bool> AddAsync(StoredFollowedUser user, CancellationToken cancellationToken) => Task.FromResult(_users.TryAdd(user.Address, user));

    public Task<bool> SetPasswordAsync(string address, string password, CancellationToken cancellationToken)
    {
        while (_users.TryGetValue(address, out var user))
            if (_users.TryUpdate(address, user with { Password = password }, user)) return Task.FromResult(true);
        return Task.FromResult(false);
    }

    public Task<bool> RemoveAsync(string address, CancellationToken cancellationToken) => Task.FromResult(_users.TryRemove(address, out _));
}
