using ActiveCalls.Service.Commands;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.Commands;

public class CommandSessionStoreTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero));

    private CommandSessionStore Store(int maxPerOwner = 50, int maxSessions = 10_000) => new(Lifetime, _time, maxPerOwner, maxSessions);

    [Fact]
    public void ASessionBelongsToItsOwnerAndNode()
    {
        var store = Store();
        var session = store.Open("alice@example.com/psi", "create")!;

        Assert.Matches("^[0-9a-f]{32}$", session.SessionId);
        Assert.Null(store.Take(session.SessionId, "alice@example.com/other", "create"));
        Assert.Null(store.Take(session.SessionId, "alice@example.com", "create"));
        Assert.Null(store.Take(session.SessionId, "alice@example.com/psi", "terminate"));
        Assert.Equal(session, store.Take(session.SessionId, "alice@example.com/psi", "create"));
        Assert.Null(store.Take(session.SessionId, "alice@example.com/psi", "create"));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void SessionIdsAreNeverReused()
    {
        var store = Store();
        var ids = Enumerable.Range(0, 200).Select(i => store.Open("o" + (i % 4), "create")!.SessionId).ToHashSet();

        Assert.Equal(200, ids.Count);
    }

    [Fact]
    public void ASessionExpiresALifetimeAfterItsLastUse()
    {
        var store = Store();
        var session = store.Open("a", "create")!;

        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.True(store.Touch(session.SessionId, "a", "create"));
        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.True(store.Touch(session.SessionId, "a", "create"));
        _time.Advance(Lifetime);

        Assert.False(store.Touch(session.SessionId, "a", "create"));
        Assert.Null(store.Take(session.SessionId, "a", "create"));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void AReturnedSessionLivesAFreshLifetime()
    {
        var store = Store();
        var session = store.Open("a", "create")!;
        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));

        Assert.True(store.Return(store.Take(session.SessionId, "a", "create")!));
        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));

        Assert.Equal(session, store.Take(session.SessionId, "a", "create"));
    }

    [Fact]
    public void AnOwnerAtTheBoundLosesItsLeastRecentlyUsedSession()
    {
        var store = Store(maxPerOwner: 3);
        var first = store.Open("a", "create")!;
        var second = store.Open("a", "create")!;
        var third = store.Open("a", "create")!;
        Assert.True(store.Touch(first.SessionId, "a", "create"));
        var other = store.Open("b", "create")!;

        var fourth = store.Open("a", "create")!;

        Assert.Equal(3, store.CountFor("a"));
        Assert.False(store.Touch(second.SessionId, "a", "create"));
        Assert.True(store.Touch(first.SessionId, "a", "create"));
        Assert.True(store.Touch(third.SessionId, "a", "create"));
        Assert.True(store.Touch(fourth.SessionId, "a", "create"));
        Assert.True(store.Touch(other.SessionId, "b", "create"));
    }

    [Fact]
    public void AFullStoreRefusesNewSessionsUntilSomeExpire()
    {
        var store = Store(maxPerOwner: 5, maxSessions: 4);
        for (var i = 0; i < 4; i++) Assert.NotNull(store.Open("o" + i, "create"));

        Assert.Null(store.Open("late", "create"));
        _time.Advance(Lifetime);

        Assert.NotNull(store.Open("late", "create"));
        Assert.Equal(1, store.Count);
    }
}
