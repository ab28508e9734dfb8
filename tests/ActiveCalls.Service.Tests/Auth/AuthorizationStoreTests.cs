using ActiveCalls.Service.Auth;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.Auth;

public sealed class AuthorizationStoreTests : IDisposable
{
    private static readonly Jid Hiro = Jid.Parse("hiro@example.onsip.com/psi");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2012, 11, 13, 15, 9, 58, TimeSpan.Zero));
    private readonly AuthorizationStore _store;
    private readonly List<Jid> _changed = [];

    public AuthorizationStoreTests()
    {
        _store = new AuthorizationStore(_time);
        _store.Changed += (_, jid) => _changed.Add(jid);
    }

    public void Dispose() => _store.Dispose();

    [Fact]
    public void AGrantIsKeptForTheBareJidAndAnsweredForAnyOfItsResources()
    {
        _store.Authorize(Hiro, ["hiro@example.onsip.com", "HIRO_marketing@example.onsip.com"], _time.GetUtcNow().AddHours(1));

        Assert.True(_store.IsAuthorized(Jid.Parse("hiro@example.onsip.com"), "hiro@example.onsip.com"));
        Assert.True(_store.IsAuthorized(Jid.Parse("hiro@example.onsip.com/other"), "sip:hiro_marketing@example.onsip.com"));
        Assert.Equal(["hiro@example.onsip.com", "hiro_marketing@example.onsip.com"], _store.AddressesFor(Jid.Parse("hiro@example.onsip.com")).Order(StringComparer.Ordinal));
        Assert.False(_store.IsAuthorized(Jid.Parse("someone@example.onsip.com"), "hiro@example.onsip.com"));
        Assert.Empty(_store.AddressesFor(Jid.Parse("someone@example.onsip.com")));
        Assert.Equal([Jid.Parse("hiro@example.onsip.com")], _changed);
    }

    [Fact]
    public void AGrantEndsExactlyAtItsExpiryAndTheJidIsToldItChanged()
    {
        var expires = _time.GetUtcNow().AddHours(1);
        _store.Authorize(Hiro, ["hiro@example.onsip.com"], expires);
        _changed.Clear();

        _time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromTicks(1));
        Assert.True(_store.IsAuthorized(Hiro, "hiro@example.onsip.com"));
        Assert.Empty(_changed);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.False(_store.IsAuthorized(Hiro, "hiro@example.onsip.com"));
        Assert.Null(_store.ExpiryOf(Hiro, "hiro@example.onsip.com"));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([Hiro.Bare], _changed);
        Assert.Empty(_store.AddressesFor(Hiro));
    }

    [Fact]
    public void AGrantOutlivesAnotherAddressExpiringAndARenewalReplacesTheOldExpiry()
    {
        var start = _time.GetUtcNow();
        _store.Authorize(Hiro, ["hiro@example.onsip.com", "hiro_marketing@example.onsip.com"], start.AddMinutes(60));
        _time.Advance(TimeSpan.FromMinutes(50));
        _store.Authorize(Hiro, ["hiro@example.onsip.com"], start.AddMinutes(110));
        _changed.Clear();

        _time.Advance(TimeSpan.FromMinutes(11));

        Assert.Equal(["hiro@example.onsip.com"], _store.AddressesFor(Hiro));
        Assert.Equal(start.AddMinutes(110), _store.ExpiryOf(Hiro, "hiro@example.onsip.com"));
        Assert.Equal([Hiro.Bare], _changed);

        _time.Advance(TimeSpan.FromMinutes(50));
        Assert.Empty(_store.AddressesFor(Hiro));
        Assert.Equal([Hiro.Bare, Hiro.Bare], _changed);
    }

    [Fact]
    public void OnlyTheJidsThatLostAddressesAreToldOnExpiry()
    {
        var other = Jid.Parse("other@example.com");
        _store.Authorize(Hiro, ["hiro@example.onsip.com"], _time.GetUtcNow().AddMinutes(10));
        _store.Authorize(other, ["hiro@example.onsip.com"], _time.GetUtcNow().AddMinutes(30));
        _changed.Clear();

        _time.Advance(TimeSpan.FromMinutes(20));

        Assert.Equal([Hiro.Bare], _changed);
        Assert.True(_store.IsAuthorized(other, "hiro@example.onsip.com"));
    }

    [Fact]
    public void AThrowingListenerDoesNotBreakAGrant()
    {
        _store.Changed += (_, _) => throw new InvalidOperationException("listener bug");

        _store.Authorize(Hiro, ["hiro@example.onsip.com"], _time.GetUtcNow().AddHours(1));

        Assert.True(_store.IsAuthorized(Hiro, "hiro@example.onsip.com"));
    }

    [Fact]
    public void GrantsFromManyThreadsAreAllKept()
    {
        Parallel.For(0, 200, i => _store.Authorize(Jid.Parse($"user{i % 20}@example.com/r{i}"), [$"a{i}@example.com"], _time.GetUtcNow().AddHours(1)));

        Assert.Equal(200, Enumerable.Range(0, 20).Sum(u => _store.AddressesFor(Jid.Parse($"user{u}@example.com")).Count));
    }
}
