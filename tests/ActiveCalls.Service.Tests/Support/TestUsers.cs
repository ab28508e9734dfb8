using ActiveCalls.Service.Auth;
using ActiveCalls.Service.Hosting;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>Users and options for the specifications: the addresses and passwords of the reference document's samples.</summary>
internal static class TestUsers
{
    /// <summary>The §3.1 wiki sample's user and password.</summary>
    /// <summary>The demo users file the stack ships (alice, bob, carol @activecalls.test).</summary>
    public static string DevUsersFile()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return Path.Combine(dir.FullName, "src", "ActiveCalls.Service", "users.dev.json");
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }

    public const string Foo = "foo@example.onsip.com";
    public const string FooPassword = "goodpassword";
    /// <summary>The §3.1 sample B user, whose owner also has <see cref="HiroMarketing"/>.</summary>
    public const string Hiro = "hiro@example.onsip.com";
    public const string HiroPassword = "webpassword12345";
    public const string HiroMarketing = "hiro_marketing@example.onsip.com";
    /// <summary>The §3.3 sample's user; the sample sends "password", which is not hers.</summary>
    public const string Alice = "alice@example.com";
    public const string AlicePassword = "alice-password";
    public const string Bob = "bob@example.com";

    public const string Json = """
        {
          "users": [
            { "address": "foo@example.onsip.com", "password": "goodpassword", "owner": "example" },
            { "address": "hiro@example.onsip.com", "password": "webpassword12345", "owner": "hiro-co" },
            { "address": "hiro_marketing@example.onsip.com", "password": "marketing-password", "owner": "hiro-co" },
            { "address": "alice@example.com", "password": "alice-password", "owner": "wonderland" },
            { "address": "bob@example.com", "password": "bob-password", "owner": "wonderland" }
          ]
        }
        """;

    public static UserDirectory Directory() => UserDirectory.Parse(Json, "test users");

    /// <summary>Options for OnSIP's own domain, so the samples' component addresses are used verbatim.</summary>
    public static ActiveCallsServiceOptions Options(string domain = "xmpp.onsip.com") => new()
    {
        Domain = domain,
        ComponentSecret = "secret",
        UsersFile = "test-users.json",
    };
}
