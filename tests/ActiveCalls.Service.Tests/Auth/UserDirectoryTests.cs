using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Tests.Support;

namespace ActiveCalls.Service.Tests.Auth;

public sealed class UserDirectoryTests
{
    [Fact]
    public void LoadsUsersWithTheirOwnersInFileOrder()
    {
        var users = TestUsers.Directory();

        Assert.Equal([TestUsers.Foo, TestUsers.Hiro, TestUsers.HiroMarketing, TestUsers.Alice, TestUsers.Bob], users.Users.Select(u => u.Address));
        Assert.Equal([TestUsers.Hiro, TestUsers.HiroMarketing], users.AddressesOwnedBy("hiro-co"));
        Assert.Equal("/example.onsip.com/hiro_marketing", users.Find(TestUsers.HiroMarketing)!.Node);
    }

    [Fact]
    public void TheCommittedDevelopmentUsersFileIsValid()
    {
        var path = Path.Combine(RepositoryRoot(), "src", "ActiveCalls.Service", "users.dev.json");

        var users = UserDirectory.Load(path);

        Assert.Equal(["alice@activecalls.test", "bob@activecalls.test", "carol@activecalls.test"], users.AddressesOwnedBy("demo"));
        Assert.True(users.AddressesOwnedBy("sales").Count >= 1);
        Assert.True(users.TryAuthenticate("alice@activecalls.test", "alice-dev-password", out _));
    }

    [Theory]
    [InlineData("hiro@example.onsip.com")]
    [InlineData("sip:hiro@example.onsip.com")]
    [InlineData("HIRO@Example.Onsip.com")]
    public void APasswordIsCheckedForTheAddressWithOrWithoutSipAndInAnyCase(string address)
    {
        Assert.True(TestUsers.Directory().TryAuthenticate(address, TestUsers.HiroPassword, out var user));
        Assert.Equal(TestUsers.Hiro, user.Address);
    }

    [Theory]
    [InlineData("hiro@example.onsip.com", "wrong")]
    [InlineData("hiro@example.onsip.com", "WEBPASSWORD12345")]
    [InlineData("hiro@example.onsip.com", "")]
    [InlineData("hiro@example.onsip.com", null)]
    [InlineData("nobody@example.onsip.com", "webpassword12345")]
    [InlineData("not an address", "webpassword12345")]
    [InlineData(null, "webpassword12345")]
    public void AWrongPasswordOrAnUnknownAddressDoesNotAuthenticate(string? address, string? password)
    {
        Assert.False(TestUsers.Directory().TryAuthenticate(address, password, out var user));
        Assert.Null(user);
    }

    [Fact]
    public void AUserWithoutOwnerIsAGroupOfItsOwn()
    {
        var users = UserDirectory.Parse("""{ "users": [ { "address": "solo@example.com", "password": "p" } ] }""");

        Assert.Equal("solo@example.com", users.Users.Single().Owner);
        Assert.Equal(["solo@example.com"], users.AddressesOwnedBy("solo@example.com"));
    }

    [Fact]
    public void EveryInvalidEntryIsNamedInOneClearError()
    {
        const string json = """
            { "users": [
              { "address": "sip:a@example.com", "password": "p" },
              { "address": "b@example.com", "password": "" },
              { "address": "c@example.com", "password": "p" },
              { "address": "C@Example.com", "password": "q" },
              { "address": "no-domain", "password": "p" },
              { "password": "p" },
              { "address": "d e@example.com", "password": "p" }
            ] }
            """;

        var error = Assert.Throws<UserDirectoryException>(() => UserDirectory.Parse(json, "bad.json"));

        Assert.Contains("'bad.json'", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[0] ('sip:a@example.com'): \"address\" must be a plain user@domain", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[1] ('b@example.com'): \"password\" must not be empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[3] ('C@Example.com'): the address is already used by users[2]", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[4] ('no-domain')", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[5]: \"address\" is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("users[6] ('d e@example.com')", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "users": [ { "address": "a@example.com", "pasword": "p" } ] }""", "pasword")]
    [InlineData("""{ "accounts": [] }""", "accounts")]
    [InlineData("""{ }""", "no \"users\" array")]
    [InlineData("""[ 1, 2 ]""", "not valid")]
    [InlineData("""not json""", "not valid")]
    public void AFileOfTheWrongShapeIsRefused(string json, string expected)
    {
        var error = Assert.Throws<UserDirectoryException>(() => UserDirectory.Parse(json, "users.json"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingFileIsReportedWithItsPath()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-users-" + Guid.NewGuid().ToString("N") + ".json");
        var error = Assert.Throws<UserDirectoryException>(() => UserDirectory.Load(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
