using System.Xml.Linq;
using Gateway.Api.Calls;
using Gateway.Api.Calls.State;
using Gateway.Api.Calls.Store;
using Microsoft.Extensions.DependencyInjection;
using Gateway.Api.Configuration;
using Gateway.Api.CallEventsSubscription;
using Gateway.Api.CallEventsSubscription.Store;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Api.Tests.CallEventsSubscription;

/// <summary>The subscription manager against a scripted OnSIP (<see cref="FakeOnSipPeer"/>) behind a fake pool.</summary>
public sealed class SubscriptionManagerTests : IAsyncDisposable
{
    private const string Gw0 = "gateway@example.com/gw-test-0";
    private const string Gw1 = "gateway@example.com/gw-test-1";
    private const string Me = "/me/gateway@example.com";
    private const string AliceNode = "/example.com/alice";

    private TimeProvider _time = TimeProvider.System;
    private FakeOnSipPeer _peer = new(TimeProvider.System);
    private readonly FakeXmppPool _pool = new();
    private readonly ServiceProvider _calls = new ServiceCollection().AddLogging().AddInMemoryCalls().BuildServiceProvider();
    private CallTracker? _tracker;
    private long _drained;
    private readonly EventsOptions _options = new()
    {
        SipAddress = "sip:alice@example.com",
        Password = "web-password",
        AuthComponent = FakeOnSipPeer.Auth,
        PubSubService = FakeOnSipPeer.PubSub,
        SubscribedTimeout = TimeSpan.FromMilliseconds(300),
        RetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
    };
    private ActiveCallsSubscriptionManager? _manager;
    private FakeLeadership Leadership { get; set; } = new(leader: true);
    private CallStoreKind _store = CallStoreKind.Memory;
    private FollowedUsers? _followed;

    private CallTracker Calls => _tracker ?? throw new InvalidOperationException("Not started.");

    public async ValueTask DisposeAsync()
    {
        if (_manager is not null)
        {
            await _manager.StopAsync(CancellationToken.None);
            _manager.Dispose();
        }
        await _calls.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ActiveCallsSubscriptionManager> StartAsync()
    {
        _tracker = await _calls.StartCallsAsync();
        _followed = new FollowedUsers(Options.Create(_options), new InMemoryFollowedUserStore(), _time, NullLogger<FollowedUsers>.Instance);
        _manager = new ActiveCallsSubscriptionManager(_pool, Leadership, Options.Create(new CallsOptions { Store = _store }), Calls, _followed,
            Options.Create(_options), _time, NullLogger<ActiveCallsSubscriptionManager>.Instance);
        await _manager.StartAsync(Ct);
        return _manager;
    }

    private static Task EventuallyAsync(Func<bool> condition, string what, int seconds = 10) =>
        EventuallyAsync(() => Task.FromResult(condition()), what, seconds);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(20, Ct);
        }
    }

    private static ActiveCallItem Leg(string state, string callId = "dialog-1", string? toTag = null) => new()
    {
        DialogStateText = state, CallId = callId, FromUri = "sip:bob@example.com", ToUri = "sip:alice@example.com", FromTag = "ft-1", ToTag = toTag,
    };

    /// <summary>The types of the events committed since the last drain.</summary>
    private async Task<List<string>> DrainAsync()
    {
        var events = await _calls.GetRequiredService<ICallStore>().CommittedAsync(_drained);
        if (events.Count > 0) _drained = events[^1].Position;
        return [.. events.Select(e => e.Event.Type)];
    }

    private async Task<CallState?> StateOfAsync(string id) => (await Calls.FindAsync(id, Ct))?.State;

    [Fact]
    public async Task BootstrapsLikeOnSipAsksThenFeedsEveryItemOfANotificationInOrder()
    {
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        // Active as soon as subscribed; the items are fetched right after.
        await EventuallyAsync(() => _peer.Operations().Count == 4, "the items fetched");
        Assert.Equal(["command authorize-plain", "subscriptions ", "subscribe " + Gw0, "items "], _peer.Operations());
        var auth = DataForm.Parse(_peer.Requests[0].Payload.Element(XName.Get("x", "jabber:x:data"))!);
        Assert.Equal("alice@example.com", auth.GetValue("sip-address"));
        Assert.Equal("web-password", auth.GetValue("password"));
        Assert.Equal("true", auth.GetValue("auth-for-all"));
        Assert.Equal(Gw0, auth.GetValue("jid"));
        var subscribe = _peer.Requests[2].Payload;
        Assert.Equal(Me, (string?)subscribe.Elements().First().Attribute("node"));
        var options = DataForm.Parse(subscribe.Descendants(XName.Get("x", "jabber:x:data")).Single());
        Assert.Equal("items", options.GetValue("pubsub#subscription_type"));
        Assert.Equal("all", options.GetValue("pubsub#subscription_depth"));
        Assert.NotNull(options.GetValue("pubsub#expire"));
        Assert.Equal(Me, manager.Status.Node);
        Assert.InRange(manager.Status.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddMinutes(55), DateTimeOffset.UtcNow.AddMinutes(61));

        // One notification with two items (ringing then answered), then a retract: every one applied, in order.
        await _peer.PublishAsync(gw0, ("item-1", AliceNode, Leg("requested")), ("item-1", AliceNode, Leg("confirmed", toTag: "tt-1")));
        var id = CallStateMachine.PlainCallId("dialog-1");
        await EventuallyAsync(async () => await StateOfAsync(id) == CallState.Connected, "the call connected");
        await _peer.RetractAsync(gw0, AliceNode, "item-1");
        await EventuallyAsync(async () => await StateOfAsync(id) == CallState.Ended, "the call ended");
        Assert.Equal(["call.callee-ringing", "call.connected", "call.ended"], await DrainAsync());
        Assert.Equal(2, manager.Status.ItemsApplied);
        Assert.Equal(1, manager.Status.RetractsApplied);
    }

    [Fact]
    public async Task AReplicaWithoutTheLeaseStandsBySendingNothingUntilItGetsTheLease()
    {
        Leadership = new FakeLeadership(leader: false);
        _pool.Receiver = _peer.Connect(Gw0);
        var manager = await StartAsync();

        await EventuallyAsync(() => manager.Status.State == EventsState.Standby, "standing by");
        Assert.Empty(_peer.Operations());

        Leadership.Grant();
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription after taking the lease");
        Assert.Equal(["command authorize-plain", "subscriptions ", "subscribe " + Gw0], _peer.Operations().Take(3));
    }

    [Fact]
    public async Task LosingTheLeaseEndsTheSessionAndATakeOverRemovesTheOtherReplicasSubscriptions()
    {
        _store = CallStoreKind.Redis;
        const string otherReplica = "gateway@example.com/gw-other-0";
        _peer.Subscriptions.Add((Jid.Parse(otherReplica), "other-1", "subscribed"));
        _pool.Receiver = _peer.Connect(Gw0);
        var manager = await StartAsync();
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        Assert.Contains("unsubscribe " + otherReplica, _peer.Operations());

        Leadership.Revoke();
        await EventuallyAsync(() => manager.Status.State == EventsState.Standby, "standing by after losing the lease");
        var before = _peer.Operations().Count;

        Leadership.Grant();
        await EventuallyAsync(() => manager.Status.IsActive, "active again after taking the lease back");
        Assert.Contains("command authorize-plain", _peer.Operations().Skip(before));
    }

    [Fact]
    public async Task ReusesAndRenewsTheExistingSubscriptionOfItsOwnJidInsteadOfSubscribingAgain()
    {
        var gw0 = _peer.Connect(Gw0);
        _peer.Subscriptions.Add((Jid.Parse(Gw1), "other-1", "subscribed"));
        _peer.Subscriptions.Add((Jid.Parse(Gw0), "mine-1", "subscribed"));
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        // The manager is active before it reads the items (reconciliation follows the subscription).
        await EventuallyAsync(() => _peer.Operations().Count >= 4, "the items read");
        Assert.Equal(["command authorize-plain", "subscriptions ", "options " + Gw0, "items "], _peer.Operations());
        Assert.Equal("mine-1", (string?)_peer.Requests[2].Payload.Elements().First().Attribute("subid"));
        Assert.Equal(2, _peer.Subscriptions.Count);
    }

    [Fact]
    public async Task APendingSubscriptionWithoutItsSubscribedMessageTimesOutAndIsRetriedWithBackoff()
    {
        var gw0 = _peer.Connect(Gw0);
        _peer.ConfirmSubscriptions = false;
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => _peer.Operations().Count(o => o.StartsWith("subscribe", StringComparison.Ordinal)) >= 2, "a second attempt");
        Assert.False(manager.Status.IsActive);
        Assert.Contains("pending", manager.Status.LastError, StringComparison.Ordinal);
        Assert.Equal(["command authorize-plain", "subscriptions ", "subscribe " + Gw0], _peer.Operations().Take(3));

        _peer.ConfirmSubscriptions = true;
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription once confirmed");
        Assert.Null(manager.Status.LastError);
    }

    [Fact]
    public async Task ReauthorisesAndRenewsAtThreeQuartersOfTheAuthorisationLifetime()
    {
        var gw0 = _peer.Connect(Gw0);
        _peer.AuthLifetime = TimeSpan.FromSeconds(2);
        _pool.Receiver = gw0;
        var manager = await StartAsync();
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        var started = DateTime.UtcNow;

        await EventuallyAsync(() => _peer.Operations().Contains("options " + Gw0), "a renewal");
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(4));
        var ops = _peer.Operations();
        Assert.Equal(["command authorize-plain", "options " + Gw0], ops.ToArray()[4..6]);
        Assert.Single(_peer.Subscriptions);
    }

    [Fact]
    public async Task OnFailOverItResubscribesOnTheNewReceiverDropsTheOldSubscriptionAndReconcilesMissedEnds()
    {
        var gw0 = _peer.Connect(Gw0);
        var gw1 = _peer.Connect(Gw1);
        _pool.Receiver = gw0;
        var manager = await StartAsync();
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        // Two calls connected while gw0 listened.
        await _peer.PublishAsync(gw0, ("item-1", AliceNode, Leg("confirmed", "dialog-1", "tt-1")));
        await _peer.PublishAsync(gw0, ("item-2", AliceNode, Leg("requested", "dialog-2")));
        var first = CallStateMachine.PlainCallId("dialog-1");
        var second = CallStateMachine.PlainCallId("dialog-2");
        await EventuallyAsync(async () => await StateOfAsync(second) is not null, "both calls");
        await DrainAsync();

        // gw0 goes down: meanwhile call 1 ended and call 2 was answered; the service now holds only item-2, confirmed.
        _peer.CurrentItems.Add(("item-2", AliceNode, Leg("confirmed", "dialog-2", "tt-2")));
        _pool.ChangeReceiver(gw1, "the event connection went down");

        await EventuallyAsync(() => manager.Status.IsActive && manager.Status.Receiver == Gw1, "a subscription on gw1");
        await EventuallyAsync(async () => await StateOfAsync(first) == CallState.Ended, "the vanished call ended");
        Assert.Equal(CallState.Connected, await StateOfAsync(second));
        Assert.Equal(["call.connected", "call.ended"], (await DrainAsync()).Order());
        var onGw1 = _peer.Operations(Jid.Parse(Gw1));
        Assert.Equal(["command authorize-plain", "subscriptions ", "unsubscribe " + Gw0, "subscribe " + Gw1, "items "], onGw1);
        Assert.Equal([Jid.Parse(Gw1)], _peer.Subscriptions.Select(s => s.Jid));

        // Events now flow from gw1 only.
        await _peer.RetractAsync(gw1, AliceNode, "item-2");
        await EventuallyAsync(async () => await StateOfAsync(second) == CallState.Ended, "call 2 ended");
    }

    [Fact]
    public async Task WhileSubscribedItChecksTheCallsAgainstTheCurrentItemsAndEndsACallWhoseLegsVanishedAsLost()
    {
        _options.ReconcileInterval = TimeSpan.FromMilliseconds(200);
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        var connected = Leg("confirmed", "dialog-1", "tt-1");
        _peer.CurrentItems.Add(("item-1", AliceNode, connected));
        await _peer.PublishAsync(gw0, ("item-1", AliceNode, connected));
        var id = CallStateMachine.PlainCallId("dialog-1");
        await EventuallyAsync(async () => await StateOfAsync(id) == CallState.Connected, "the call connected");
        await Task.Delay(500, Ct);
        Assert.Equal(CallState.Connected, await StateOfAsync(id)); // checked, and still there upstream

        // The service loses the call without its retraction reaching us (it crashed, a notification was lost).
        _peer.CurrentItems.Clear();

        await EventuallyAsync(async () => await StateOfAsync(id) == CallState.Ended, "the vanished call ended");
        Assert.Equal(CallEndReason.Lost, (await Calls.FindAsync(id, Ct))!.EndReason);
        Assert.Equal(["call.connected", "call.ended"], await DrainAsync());
        Assert.True(manager.Status.IsActive);
    }

    /// <summary>A team: alice (owner "demo": alice, bob) and dave of another owner ("sales": dave, erin).</summary>
    private void FollowTwoOwners(string davePassword = "dave-password")
    {
        _options.Users.Add(new FollowedUserOptions { Address = "sip:dave@sales.example.com", Password = davePassword });
        _peer.Accounts["alice@example.com"] = ("web-password", ["alice@example.com", "bob@example.com"]);
        _peer.Accounts["dave@sales.example.com"] = ("dave-password", ["dave@sales.example.com", "erin@sales.example.com"]);
    }

    private FollowedUserStatus StatusOf(string address) => _followed!.Statuses.Single(s => s.Address == address);

    [Fact]
    public async Task EveryFollowedUserIsAuthorisedOnTheReceiversJidBeforeTheOneSubscriptionSoItCoversBothOwnersAddresses()
    {
        FollowTwoOwners();
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => _peer.Operations().Count == 5, "the items fetched");
        Assert.Equal(["command authorize-plain", "command authorize-plain", "subscriptions ", "subscribe " + Gw0, "items "], _peer.Operations());
        var forms = _peer.Requests.Take(2).Select(r => DataForm.Parse(r.Payload.Element(XName.Get("x", "jabber:x:data"))!)).ToList();
        Assert.Equal(["alice@example.com", "dave@sales.example.com"], forms.Select(f => f.GetValue("sip-address")));
        Assert.Equal(["web-password", "dave-password"], forms.Select(f => f.GetValue("password")));
        Assert.All(forms, f => Assert.Equal(Gw0, f.GetValue("jid")));
        Assert.All(forms, f => Assert.Equal("true", f.GetValue("auth-for-all")));
        Assert.True(manager.Status.IsActive);

        Assert.Equal(["alice@example.com", "bob@example.com"], StatusOf("alice@example.com").Covers);
        Assert.Equal(["dave@sales.example.com", "erin@sales.example.com"], StatusOf("dave@sales.example.com").Covers);
        Assert.All(_followed!.Statuses, s => Assert.True(s.IsAuthorized));
        Assert.True(_followed.Follows("sip:erin@sales.example.com"));
        Assert.True(_followed.Follows("sip:bob@example.com"));
        Assert.False(_followed.Follows("sip:carol@example.com"));
    }

    [Fact]
    public async Task AFollowedUserTheAuthComponentRefusesIsReportedWhileTheOthersCallsFlowAndIsTriedAgainAtEachCheck()
    {
        _options.ReconcileInterval = TimeSpan.FromMilliseconds(200);
        FollowTwoOwners(davePassword: "an-old-password");
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
        var dave = StatusOf("dave@sales.example.com");
        Assert.False(dave.IsAuthorized);
        Assert.Contains("Authentication failed", dave.LastError, StringComparison.Ordinal);
        Assert.True(StatusOf("alice@example.com").IsAuthorized);
        // What dave's authorisation would cover is not known: only its own address counts as followed meanwhile.
        Assert.False(_followed!.Follows("sip:erin@sales.example.com"));

        // The password is fixed upstream (here: the service now takes the old one); the next check authorises dave.
        _peer.Accounts["dave@sales.example.com"] = ("an-old-password", ["dave@sales.example.com", "erin@sales.example.com"]);

        await EventuallyAsync(() => StatusOf("dave@sales.example.com").IsAuthorized, "dave authorised at a periodic check");
        Assert.True(_followed.Follows("sip:erin@sales.example.com"));
        Assert.Single(_peer.Subscriptions);
    }

    [Fact]
    public async Task WhenNoFollowedUserCanBeAuthorisedTheAttemptFailsWithEachUsersReasonAndIsRetried()
    {
        _options.Password = "wrong";
        FollowTwoOwners(davePassword: "also-wrong");
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();

        await EventuallyAsync(() => _peer.Operations().Count(o => o == "command authorize-plain") >= 4, "a second attempt");
        Assert.False(manager.Status.IsActive);
        Assert.StartsWith("No followed user could be authorised: alice@example.com: bad-request", manager.Status.LastError, StringComparison.Ordinal);
        Assert.Contains("dave@sales.example.com: bad-request", manager.Status.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(_peer.Operations(), o => o.StartsWith("subscribe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryFollowedUserIsAuthorisedAgainAtThreeQuartersOfTheAuthorisationThenTheSubscriptionRenewed()
    {
        var start = new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        _time = clock;
        _peer = new FakeOnSipPeer(clock);
        _options.ReconcileInterval = TimeSpan.FromHours(2); // no periodic check in between
        FollowTwoOwners();
        var gw0 = _peer.Connect(Gw0);
        _pool.Receiver = gw0;
        var manager = await StartAsync();
        await EventuallyAsync(() => _peer.Operations().Count == 5, "the items fetched");
        Assert.All(_followed!.Statuses, s => Assert.Equal(start.AddHours(1), s.AuthorizedUntil));

        // Just before three quarters of the hour, then at it: the renewal happens then, at 09:45 (its expiry says when).
        clock.Advance(TimeSpan.FromMinutes(45) - TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1));

        await EventuallyAsync(() => _peer.Operations().Contains("options " + Gw0), "the renewal");
        Assert.Equal(["command authorize-plain", "command authorize-plain", "options " + Gw0], _peer.Operations().Skip(5));
        var renewed = DataForm.Parse(_peer.Requests[^1].Payload.Descendants(XName.Get("x", "jabber:x:data")).Single());
        Assert.Equal(start.AddMinutes(45).AddHours(1), DateTimeOffset.Parse(renewed.GetValue("pubsub#expire")!, System.Globalization.CultureInfo.InvariantCulture));
        await EventuallyAsync(() => manager.Status.ExpiresAt == start.AddMinutes(45).AddHours(1), "the status renewed");
        Assert.All(_followed.Statuses, s => Assert.Equal(start.AddMinutes(45).AddHours(1), s.AuthorizedUntil));
        Assert.Single(_peer.Subscriptions);
    }

    [Fact]
    public async Task WithoutAReceiverItWaitsAndReportsNotActive()
    {
        var manager = await StartAsync();
        await Task.Delay(100, Ct);
        Assert.Equal(EventsState.WaitingForConnection, manager.Status.State);
        var gw0 = _peer.Connect(Gw0);
        _pool.ChangeReceiver(gw0, "a connection came up");
        await EventuallyAsync(() => manager.Status.IsActive, "an active subscription");
    }

    [Fact]
    public async Task DisabledWithoutASipAddress()
    {
        _options.SipAddress = null;
        var manager = await StartAsync();
        Assert.Equal(EventsState.Disabled, manager.Status.State);
        Assert.Empty(_peer.Requests);
    }

    [Theory]
    [InlineData("alice@example.com", null, "Password")]
    [InlineData("not-an-address", "pw", "SipAddress")]
    public void OptionsAreValidatedWhenEnabled(string address, string? password, string expected)
    {
        var result = new EventsOptionsValidator().Validate(null, new EventsOptions { SipAddress = address, Password = password });
        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new EventsOptionsValidator().Validate(null, new EventsOptions()).Succeeded);
    }

    [Fact]
    public void EachFollowedUserOfTheListIsValidatedAndNoneMayBeFollowedTwice()
    {
        var options = new EventsOptions
        {
            SipAddress = "alice@example.com",
            Password = "pw",
            Users =
            {
                new FollowedUserOptions { Address = "sip:alice@example.com", Password = "pw" },
                new FollowedUserOptions { Address = "dave@sales.example.com" },
                new FollowedUserOptions { Address = "not an address", Password = "pw" },
            },
        };

        var failures = new EventsOptionsValidator().Validate(null, options).FailureMessage;

        Assert.Contains("'alice@example.com' is configured twice", failures, StringComparison.Ordinal);
        Assert.Contains("'dave@sales.example.com' needs its web password", failures, StringComparison.Ordinal);
        Assert.Contains("'not an address' must be a user@domain SIP address", failures, StringComparison.Ordinal);
        // On with no user configured: the users come from POST /followed-users.
        Assert.True(new EventsOptionsValidator().Validate(null, new EventsOptions { Enabled = true }).Succeeded);
    }
}
