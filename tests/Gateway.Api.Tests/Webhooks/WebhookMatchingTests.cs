using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Webhooks;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>Which subscriptions an event goes to: type filter, address filter, and the owner key's scope.</summary>
public sealed class WebhookMatchingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly CallEvent Connected = new()
    {
        Id = "ab12cd34.5",
        Type = "call.connected",
        Sequence = 5,
        OccurredAt = T0,
        Call = new CallResource
        {
            Id = "ab12cd34", From = "sip:alice@example.com", To = "sip:bob@example.com", State = CallState.Connected,
            CreatedAt = T0, UpdatedAt = T0,
            Legs = [new CallLegResource { ItemId = "i1", Role = LegRole.Callee, Active = true, FromUri = "sip:alice@example.com", ToUri = "sip:bob@example.com", ToAor = "bob@example.com", FirstSeenAt = T0 }],
        },
    };

    private static StoredSubscription Subscription(IReadOnlyList<string>? types = null, string? address = null, WebhookState state = WebhookState.Enabled) =>
        new("wh_1", "key", "https://hooks.example/", types, address, null, [1], null, null, state, null, T0);

    private static AddressScope Scope(params string[] scopes) => new(scopes);

    [Fact]
    public void AnEventGoesToASubscriptionWhoseKeySeesTheCall()
    {
        Assert.True(WebhookEventWriter.Matches(Subscription(), Connected, Scope("*")));
        Assert.True(WebhookEventWriter.Matches(Subscription(), Connected, Scope("bob@example.com")));
        Assert.True(WebhookEventWriter.Matches(Subscription(), Connected, Scope("*@example.com")));
        Assert.False(WebhookEventWriter.Matches(Subscription(), Connected, Scope("carol@example.com")));
        Assert.False(WebhookEventWriter.Matches(Subscription(), Connected, Scope("*@example.org")));
    }

    [Fact]
    public void AKeyThatNoLongerExistsGetsNothing()
    {
        Assert.False(WebhookEventWriter.Matches(Subscription(), Connected, ownerScope: null));
    }

    [Fact]
    public void TheEventTypeFilterAndTheAddressFilterNarrowIt()
    {
        Assert.True(WebhookEventWriter.Matches(Subscription(types: ["call.connected", "call.ended"]), Connected, Scope("*")));
        Assert.False(WebhookEventWriter.Matches(Subscription(types: ["call.ended"]), Connected, Scope("*")));
        Assert.True(WebhookEventWriter.Matches(Subscription(address: "alice@example.com"), Connected, Scope("*")));
        Assert.True(WebhookEventWriter.Matches(Subscription(address: "bob@example.com"), Connected, Scope("*")));
        Assert.False(WebhookEventWriter.Matches(Subscription(address: "carol@example.com"), Connected, Scope("*")));
    }

    [Fact]
    public void ADisabledSubscriptionGetsNothing()
    {
        Assert.False(WebhookEventWriter.Matches(Subscription(state: WebhookState.Disabled), Connected, Scope("*")));
    }
}
