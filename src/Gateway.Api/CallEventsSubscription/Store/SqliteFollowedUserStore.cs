using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using static Gateway.Api.Calls.Store.CallDatabase;

namespace Gateway.Api.CallEventsSubscription.Store;

/// <summary>
/// The added followed users in the calls database (table <c>followed_users</c>, see <see cref="CallDatabase"/>). Web
/// passwords are written only as ASP.NET Core Data Protection payloads (<see cref="FollowedUserPasswords"/>; keys in
/// the data folder's <c>keys/</c>, see <c>AddCallEvents</c>): a copy of the database alone does not give them away.
/// </summary>
internal sealed class SqliteFollowedUserStore(IOptions<CallsOptions> calls, IDataProtectionProvider protection, ILogger<SqliteFollowedUserStore> logger)
    : IFollowedUserStore, IDisposable
{
    private readonly string _path = calls.Value.DatabasePath;
    private readonly IDataProtector _protector = FollowedUserPasswords.Protector(protection);
    private readonly SemaphoreSlim _migrated = new(1, 1);
    private bool _ready;

    public async Task<IReadOnlyList<StoredFollowedUser>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT address, password, added_at FROM followed_users ORDER BY added_at, address;");
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        var users = new List<StoredFollowedUser>();
        while (await row.ReadAsync(cancellationToken))
            users.Add(new StoredFollowedUser(row.GetString(0), _protector.Unprotect(row.GetString(1)), new DateTimeOffset(row.GetInt64(2), TimeSpan.Zero)));
        return users;
    }

    public Task<bool> AddAsync(StoredFollowedUser user, CancellationToken cancellationToken) =>
        WriteAsync("INSERT OR IGNORE INTO followed_users (address, password, added_at) VALUES ($address, $password, $added);", cancellationToken,
            ("$address", user.Address), ("$password", _protector.Protect(user.Password)), ("$added", Ticks(user.AddedAt)));

    public Task<bool> SetPasswordAsync(string address, string password, CancellationToken cancellationToken) =>
        WriteAsync("UPDATE followed_users SET password = $password WHERE address = $address;", cancellationToken,
            ("$address", address), ("$password", _protector.Protect(password)));

    public Task<bool> RemoveAsync(string address, CancellationToken cancellationToken) =>
        WriteAsync("DELETE FROM followed_users WHERE address = $address;", cancellationToken, ("$address", address));

    /// <summary>Runs one row's write under the file's <see cref="CallDatabase.WriteGate"/>; whether it changed a row.</summary>
    private async Task<bool> WriteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var gate = WriteGate(_path);
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await ExecuteAsync(connection, null, sql, cancellationToken, parameters) == 1;
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose() => _migrated.Dispose();

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            await _migrated.WaitAsync(cancellationToken);
            try
            {
                if (!_ready) await MigrateAsync(_path, logger, cancellationToken);
                _ready = true;
            }
            finally
            {
                _migrated.Release();
            }
        }
        return await OpenConnectionAsync(_path, cancellationToken);
    }
}
