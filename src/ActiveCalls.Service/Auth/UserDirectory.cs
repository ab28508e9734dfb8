using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Xmpp.ActiveCalls;

namespace ActiveCalls.Service.Auth;

/// <summary>A SIP user of the reference service: its address (<c>user@domain</c>, lower-case) and the owner that groups
/// addresses for <c>auth-for-all</c>. The password stays inside <see cref="UserDirectory"/>.</summary>
public sealed record SipUser(string Address, string Owner)
{
    /// <summary>The user's leaf node on Active-Calls PubSub, <c>/&lt;domain&gt;/&lt;user&gt;</c>.</summary>
    public string Node => ActiveCallsNodes.ForSipAddress(Address);
}

/// <summary>The users file is missing, unreadable or invalid. The message names every problem found.</summary>
public sealed class UserDirectoryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The SIP users the Auth component checks passwords against and the PubSub service makes leaf nodes for, loaded from a
/// JSON file: <c>{ "users": [ { "address": "alice@example.com", "password": "…", "owner": "acme" } ] }</c>.
/// Immutable and thread-safe once loaded.
/// </summary>
/// <remarks>
/// Validation at load: every address is a plain <c>user@domain</c> (no <c>sip:</c>, no parameters) usable as a leaf
/// node name, addresses are unique (case-insensitively), passwords are non-empty, unknown properties are refused (a
/// typo such as <c>"pasword"</c> must not silently leave a user without a password). <c>owner</c> is optional; a user
/// without one is its own group of one. Passwords are kept only as SHA-256 digests and compared in constant time;
/// an unknown address costs the same comparison as a known one.
/// </remarks>
public sealed class UserDirectory
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    // Compared against when the address is unknown, so a miss takes as long as a wrong password.
    private static readonly byte[] NoSuchUserDigest = SHA256.HashData(RandomNumberGenerator.GetBytes(32));

    private readonly FrozenDictionary<string, Entry> _byAddress;
    private readonly FrozenDictionary<string, string> _byNode;

    private UserDirectory(IReadOnlyList<Entry> entries)
    {
        Users = [.. entries.Select(e => e.User)];
        _byAddress = entries.ToFrozenDictionary(e => e.User.Address, StringComparer.Ordinal);
        _byNode = entries.ToFrozenDictionary(e => e.User.Node, e => e.User.Address, StringComparer.Ordinal);
    }

    /// <summary>Every user, in file order.</summary>
    public IReadOnlyList<SipUser> Users { get; }

    /// <summary>Reads and validates the users file.</summary>
    /// <exception cref="UserDirectoryException">the file is missing, not JSON of the expected shape, or has invalid entries.</exception>
    public static UserDirectory Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserDirectoryException($"The users file '{path}' cannot be read: {e.Message}", e);
        }
        return Parse(json, path);
    }

    /// <summary>Parses and validates users JSON; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="UserDirectoryException">not JSON of the expected shape, or invalid entries.</exception>
    public static UserDirectory Parse(string json, string source = "users JSON")
    {
        ArgumentNullException.ThrowIfNull(json);
        UsersFile? file;
        try { file = JsonSerializer.Deserialize<UsersFile>(json, JsonOptions); }
        catch (JsonException e)
        {
            throw new UserDirectoryException($"The users file '{source}' is not valid: {e.Message}", e);
        }
        if (file?.Users is not { } users)
            throw new UserDirectoryException($"The users file '{source}' has no \"users\" array.");

        var problems = new List<string>();
        var entries = new List<Entry>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < users.Count; i++)
        {
            var user = users[i];
            var where = $"users[{i}]";
            if (user is null)
            {
                problems.Add($"{where} is null.");
                continue;
            }
            var address = user.Address?.Trim();
            if (string.IsNullOrEmpty(address))
            {
                problems.Add($"{where}: \"address\" is required.");
                continue;
            }
            where += $" ('{address}')";
            if (!TryNormalizeAddress(address, allowSipPrefix: false, out var normalized))
            {
                problems.Add($"{where}: \"address\" must be a plain user@domain SIP address (no 'sip:', parameters, spaces or '/').");
                continue;
            }
            if (seen.TryGetValue(normalized, out var first))
            {
                problems.Add($"{where}: the address is already used by users[{first}].");
                continue;
            }
            seen[normalized] = i;
            if (string.IsNullOrEmpty(user.Password))
            {
                problems.Add($"{where}: \"password\" must not be empty.");
                continue;
            }
            var owner = string.IsNullOrWhiteSpace(user.Owner) ? normalized : user.Owner.Trim();
            entries.Add(new Entry(new SipUser(normalized, owner), Digest(user.Password)));
        }
        if (problems.Count > 0)
            throw new UserDirectoryException($"The users file '{source}' is invalid:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
        return new UserDirectory(entries);
    }

    /// <summary>Normalises a SIP address to lower-case <c>user@domain</c>; with <paramref name="allowSipPrefix"/> a leading
    /// <c>sip:</c> is dropped. False when it is not a plain address a leaf node can be named after.</summary>
    public static bool TryNormalizeAddress(string? address, bool allowSipPrefix, [NotNullWhen(true)] out string? normalized)
    {
        normalized = null;
        if (address is null) return false;
        var text = address.Trim();
        if (allowSipPrefix && text.StartsWith("sip:", StringComparison.OrdinalIgnoreCase)) text = text[4..];
        if (text.Contains(':', StringComparison.Ordinal)) return false;
        try { _ = ActiveCallsNodes.ForSipAddress(text); }
        catch (FormatException) { return false; }
        normalized = text.ToLowerInvariant();
        return true;
    }

    /// <summary>The user with this address (<c>sip:</c> prefix and case do not matter), if any.</summary>
    public SipUser? Find(string? address) =>
        TryNormalizeAddress(address, allowSipPrefix: true, out var normalized) && _byAddress.TryGetValue(normalized, out var entry)
            ? entry.User
            : null;

    /// <summary>The address whose leaf node is <paramref name="node"/>, if it is one of ours.</summary>
    public bool TryGetAddressOfNode(string? node, [NotNullWhen(true)] out string? address)
    {
        address = null;
        return node is not null && _byNode.TryGetValue(node, out address);
    }

    /// <summary>Checks the password of <paramref name="address"/> in constant time.</summary>
    public bool TryAuthenticate(string? address, string? password, [NotNullWhen(true)] out SipUser? user)
    {
        user = Find(address);
        var expected = user is not null ? _byAddress[user.Address].PasswordDigest : NoSuchUserDigest;
        var matches = CryptographicOperations.FixedTimeEquals(expected, Digest(password ?? ""));
        if (matches && user is not null && !string.IsNullOrEmpty(password)) return true;
        user = null;
        return false;
    }

    /// <summary>Every address of <paramref name="owner"/>, in file order.</summary>
    public IReadOnlyList<string> AddressesOwnedBy(string owner) =>
        [.. Users.Where(u => string.Equals(u.Owner, owner, StringComparison.Ordinal)).Select(u => u.Address)];

    private static byte[] Digest(string password) => SHA256.HashData(Encoding.UTF8.GetBytes(password));

    private sealed record Entry(SipUser User, byte[] PasswordDigest);

    private sealed class UsersFile
    {
        [JsonPropertyName("users")] public List<UserJson?>? Users { get; set; }
    }

    private sealed class UserJson
    {
        [JsonPropertyName("address")] public string? Address { get; set; }
        [JsonPropertyName("password")] public string? Password { get; set; }
        [JsonPropertyName("owner")] public string? Owner { get; set; }
    }
}
