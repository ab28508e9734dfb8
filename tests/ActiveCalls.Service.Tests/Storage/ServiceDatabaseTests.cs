using ActiveCalls.Service.Auth;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Storage;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using ActiveCalls.Sip.Dialogs;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;

namespace ActiveCalls.Service.Tests.Storage;

/// <summary>The SQLite stores: what is saved is what a new process reads back, deletes stick, and one file serves one
/// service at a time.</summary>
public sealed class ServiceDatabaseTests : IDisposable
{
    private static readonly DateTimeOffset Expires = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly string _path = TestDatabase.NewPath();

    public void Dispose() => TestDatabase.Delete(_path);

    /// <summary>Writes with one open database, then reads with another (a restarted service).</summary>
    private T Reopened<T>(Action<ServiceDatabase> write, Func<ServiceDatabase, T> read)
    {
        using (var first = new ServiceDatabase(_path)) write(first);
        using var second = new ServiceDatabase(_path);
        return read(second);
    }

    [Fact]
    public void CallRecordsSurviveAReopenWithTheirDialogSnapshotsAndPendingInvites()
    {
        var dialog = new DialogSnapshot("c1@host", "<sip:call-setup@example.com>;tag=x1", "<sip:alice@example.com>;tag=y1",
            "sip:alice@192.0.2.1:5062", ["<sip:proxy.example.com;lr>"], 2, 3, "example.com");
        var call = new CallRecord("id1", "Setup001",
        [
            new LegRecord("Caller sip:alice@example.com", dialog, false, [1, 2, 3], null, null),
            new LegRecord("Callee sip:bob@example.com", null, false, null, "INVITE sip:bob@example.com SIP/2.0\r\n\r\n", "192.0.2.2:5060"),
        ]);
        var loaded = Reopened(db =>
        {
            var journal = new SqliteCallJournal(db);
            journal.Save(call with { Legs = [] });
            journal.Save(call); // replaces
            journal.Save(call with { Id = "gone" });
            journal.Remove("gone");
        }, db => new SqliteCallJournal(db).Load());

        var only = Assert.Single(loaded);
        Assert.Equal(("id1", "Setup001", 2), (only.Id, only.CallSetupId, only.Legs.Count));
        Assert.Equal(dialog with { RouteSet = [] }, only.Legs[0].Dialog! with { RouteSet = [] });
        Assert.Equal(dialog.RouteSet, only.Legs[0].Dialog!.RouteSet);
        Assert.Equal([1, 2, 3], only.Legs[0].Offer);
        Assert.Equal(call.Legs[1], only.Legs[1]);
    }

    [Fact]
    public void ItemsSurviveAReopenInPublicationOrderWithTheirPayloads()
    {
        var item = new ActiveCallItem { DialogState = ActiveCallDialogState.Confirmed, CallId = "c1", FromUri = "sip:a@example.com", ToUri = "sip:b@example.com", FromTag = "t1", PublishTime = Expires };
        var loaded = Reopened(db =>
        {
            var items = new SqliteItemStore(db);
            items.Save(new StoredItem("/example.com/a", "i2", item, 1));
            items.Save(new StoredItem("/example.com/a", "i1", item with { CallId = "c0" }, 2));
            items.Save(new StoredItem("/example.com/a", "i2", item, 3)); // re-published: newest
            items.Save(new StoredItem("/example.com/b", "i3", item, 4));
            items.Delete("/example.com/b", "i3");
        }, db => new SqliteItemStore(db).Load());

        Assert.Equal(["i1", "i2"], loaded.Select(i => i.Id));
        Assert.Equal([2L, 3L], loaded.Select(i => i.Sequence));
        Assert.Equal("c0", loaded[0].Payload.CallId);
        Assert.Equal(item.ToXml().ToString(), loaded[1].Payload.ToXml().ToString());
    }

    [Fact]
    public void SubscriptionsSurviveAReopenWithTheirSettings()
    {
        var subscription = new PubSubSubscription("/me/u@example.com", Jid.Parse("u@example.com/psi"), "s1", new SubscriptionSettings(false, "all", Expires));
        var loaded = Reopened(db =>
        {
            var store = new SqliteSubscriptionStore(db);
            store.Save(subscription with { Settings = subscription.Settings with { Deliver = true } });
            store.Save(subscription);
            store.Save(subscription with { SubId = "s2" });
            store.Delete("s2");
        }, db => new SqliteSubscriptionStore(db).Load());

        Assert.Equal(subscription, Assert.Single(loaded));
    }

    [Fact]
    public void GrantsSurviveAReopenPerBareJidAndAddress()
    {
        var loaded = Reopened(db =>
        {
            var store = new SqliteGrantStore(db);
            store.Save(new StoredGrant(Jid.Parse("u@example.com/psi"), "a@example.com", Expires.AddHours(-1)));
            store.Save(new StoredGrant(Jid.Parse("u@example.com"), "a@example.com", Expires));
            store.Save(new StoredGrant(Jid.Parse("u@example.com"), "b@example.com", Expires));
            store.Delete(Jid.Parse("u@example.com/other"), "b@example.com");
        }, db => new SqliteGrantStore(db).Load());

        Assert.Equal(new StoredGrant(Jid.Parse("u@example.com"), "a@example.com", Expires), Assert.Single(loaded));
    }

    [Fact]
    public void TheAuthorizationStoreAndTheNodeStoreComeBackAsTheyWere()
    {
        var users = TestUsers.Directory();
        var jid = Jid.Parse("u@example.com/psi");
        var item = new ActiveCallItem { DialogState = ActiveCallDialogState.Requested, CallId = "c1", FromUri = "sip:a@example.com", ToUri = "sip:b@example.com" };
        using (var db = new ServiceDatabase(_path))
        {
            using var grants = new AuthorizationStore(persisted: new SqliteGrantStore(db));
            grants.Authorize(jid, [TestUsers.Foo], DateTimeOffset.UtcNow.AddHours(1));
            var nodes = new ActiveCallsNodeStore(users, new SqliteItemStore(db));
            nodes.Publish(TestUsers.Foo, "i1", item);
            nodes.Publish(TestUsers.Foo, "i2", item);
            nodes.Retract(TestUsers.Foo, "i1");
            nodes.Publish(TestUsers.Bob, "i3", item);
        }
        using (var db = new ServiceDatabase(_path))
        {
            using var grants = new AuthorizationStore(persisted: new SqliteGrantStore(db));
            Assert.True(grants.IsAuthorized(jid, TestUsers.Foo));
            var nodes = new ActiveCallsNodeStore(users, new SqliteItemStore(db));
            Assert.Equal(["i2", "i3"], nodes.Recovered.Select(i => i.Id));
            Assert.Equal(["i2"], nodes.ItemsOf(users.Find(TestUsers.Foo)!.Node).Select(i => i.Id));
            Assert.Equal(4, nodes.Publish(TestUsers.Foo, "i4", item)!.Sequence); // sequences go on after the loaded ones
        }
    }

    [Fact]
    public void ASecondServiceCannotOpenADatabaseInUse()
    {
        using var first = new ServiceDatabase(_path);
        var e = Assert.Throws<InvalidOperationException>(() => new ServiceDatabase(_path));
        Assert.Contains("in use", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANewerSchemaIsRefused()
    {
        using (var db = new ServiceDatabase(_path)) db.Execute("UPDATE meta SET value = '99' WHERE key = 'schema_version';");
        var e = Assert.Throws<InvalidOperationException>(() => new ServiceDatabase(_path));
        Assert.Contains("schema version 99", e.Message, StringComparison.Ordinal);
    }
}
