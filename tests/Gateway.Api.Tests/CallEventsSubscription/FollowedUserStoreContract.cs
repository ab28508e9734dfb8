using Gateway.Api.CallEventsSubscription.Store;
using Gateway.Api.Configuration;
using Gateway.Api.Replicas;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Redis;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.CallEventsSubscription;

/// <summary>What every <see cref="IFollowedUserStore"/> promises <see cref="Api.CallEventsSubscription.FollowedUsers"/>,
/// run on each store.</summary>
public abstract class FollowedUserStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset Monday = new(2026, 12, 7, 9, 30, 0, TimeSpan.Zero);

    protected IFollowedUserStore Store { get; private set; } = null!;

    protected abstract Task<IFollowedUserStore> CreateStoreAsync();

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public ValueTask DisposeAsync() => DisposeStoreAsync();

    /// <summary>Closes the store and deletes what it kept.</summary>
    protected virtual ValueTask DisposeStoreAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task AddedUsersAreListedInTheOrderTheyWereAddedWithTheirPasswordsInClear()
    {
        Assert.True(await Store.AddAsync(new StoredFollowedUser("heidi@support.example.com", "heidi-web-password", Monday.AddMinutes(5)), Ct));
        Assert.True(await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday), Ct));

        Assert.Equal(
            [new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday), new StoredFollowedUser("heidi@support.example.com", "heidi-web-password", Monday.AddMinutes(5))],
            await Store.ListAsync(Ct));
    }

    [Fact]
    public async Task AnAddressIsAddedOnlyOnceAndKeepsItsFirstPassword()
    {
        Assert.True(await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday), Ct));

        Assert.False(await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "another-password", Monday.AddHours(1)), Ct));

        Assert.Equal([new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday)], await Store.ListAsync(Ct));
    }

    [Fact]
    public async Task ANewPasswordReplacesTheOldAndKeepsWhenTheUserWasAdded()
    {
        await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday), Ct);

        Assert.True(await Store.SetPasswordAsync("grace@support.example.com", "grace-new-password", Ct));

        Assert.Equal([new StoredFollowedUser("grace@support.example.com", "grace-new-password", Monday)], await Store.ListAsync(Ct));
    }

    [Fact]
    public async Task ANewPasswordForAnAddressNotStoredIsRefused()
    {
        Assert.False(await Store.SetPasswordAsync("grace@support.example.com", "grace-new-password", Ct));

        Assert.Empty(await Store.ListAsync(Ct));
    }

    [Fact]
    public async Task ARemovedUserIsNoLongerListedAndRemovingItAgainIsRefused()
    {
        await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "grace-web-password", Monday), Ct);
        await Store.AddAsync(new StoredFollowedUser("heidi@support.example.com", "heidi-web-password", Monday.AddMinutes(5)), Ct);

        Assert.True(await Store.RemoveAsync("grace@support.example.com", Ct));

        Assert.False(await Store.RemoveAsync("grace@support.example.com", Ct));
        Assert.Equal([new StoredFollowedUser("heidi@support.example.com", "heidi-web-password", Monday.AddMinutes(5))], await Store.ListAsync(Ct));
    }
}

public sealed class InMemoryFollowedUserStoreTests : FollowedUserStoreContract
{
    protected override Task<IFollowedUserStore> CreateStoreAsync() => Task.FromResult<IFollowedUserStore>(new InMemoryFollowedUserStore());
}

public sealed class SqliteFollowedUserStoreTests : FollowedUserStoreContract
{
    private readonly TempSqliteFile _database = new("followed-user-store");

    protected override Task<IFollowedUserStore> CreateStoreAsync() => Task.FromResult<IFollowedUserStore>(new SqliteFollowedUserStore(
        Options.Create(new CallsOptions { DatabasePath = _database.Path }), new EphemeralDataProtectionProvider(), NullLogger<SqliteFollowedUserStore>.Instance));

    protected override async ValueTask DisposeStoreAsync()
    {
        ((SqliteFollowedUserStore)Store).Dispose();
        await _database.DisposeAsync();
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisFollowedUserStoreTests(RedisFixture redis) : FollowedUserStoreContract
{
    private readonly RedisConnection _connection = new(
        Options.Create(new RedisOptions { Configuration = redis.Configuration, KeyPrefix = RedisCollection.NewPrefix() }), NullLogger<RedisConnection>.Instance);

    protected override Task<IFollowedUserStore> CreateStoreAsync() =>
        Task.FromResult<IFollowedUserStore>(new RedisFollowedUserStore(_connection, new EphemeralDataProtectionProvider()));

    protected override ValueTask DisposeStoreAsync() => _connection.DisposeAsync();

    [Fact]
    public async Task APasswordIsKeptInRedisOnlyEncrypted()
    {
        await Store.AddAsync(new StoredFollowedUser("grace@support.example.com", "grace-web-password", DateTimeOffset.UnixEpoch), Ct);

        var db = await _connection.DatabaseAsync();
        var stored = (string?)await db.HashGetAsync(_connection.Key("followed-users"), "grace@support.example.com");
        Assert.NotNull(stored);
        Assert.DoesNotContain("grace-web-password", stored, StringComparison.Ordinal);
    }
}
