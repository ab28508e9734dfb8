using System.Xml.Linq;
using ActiveCalls.Service.Auth;
using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Tests.Support;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.PubSub;

/// <summary>The PubSub component on a fake stream, with OnSIP's own addresses, at the wiki sample's date (so its
/// <c>pubsub#expire</c> of 2010-11-02T22:00Z is an hour ahead).</summary>
internal sealed class PubSubTestBed : IDisposable
{
    public const string Service = "pubsub.active-calls.xmpp.onsip.com";
    public static readonly DateTimeOffset Start = new(2010, 11, 2, 21, 0, 0, TimeSpan.Zero);

    private readonly IDisposable _attachment;

    public PubSubTestBed(int maxSubscriptionsPerNode = 10)
    {
        var options = TestUsers.Options();
        options.MaxSubscriptionsPerNode = maxSubscriptionsPerNode;
        Auth = new AuthorizationStore(Time);
        PubSub = new ActiveCallsPubSubComponent(new ActiveCallsNodeStore(TestUsers.Directory()), Auth, options, Time);
        Publisher = new ActiveCallsPublisher(PubSub);
        _attachment = PubSub.Attach(Stream, Stream.SendAsync);
    }

    public FakeTimeProvider Time { get; } = new(Start);
    public AuthorizationStore Auth { get; }
    public ActiveCallsPubSubComponent PubSub { get; }
    public ActiveCallsPublisher Publisher { get; }
    public FakeComponentStream Stream { get; } = new();

    /// <summary>Grants <paramref name="jid"/> the addresses for an hour, as authorize-plain would.</summary>
    public void Authorize(string jid, params string[] addresses) =>
        Auth.Authorize(Jid.Parse(jid), addresses, Time.GetUtcNow().AddHours(1));

    public Task<XElement> RequestAsync(string iqXml, string from) => Stream.RequestAsync(iqXml, from);

    public static string Subscribe(string node, string jid, string? options = null) => $"""
        <iq type='set' id='sub' to='{Service}'>
          <pubsub xmlns='http://jabber.org/protocol/pubsub'>
            <subscribe node='{node}' jid='{jid}'/>{(options is null ? "" : $"<options>{options}</options>")}
          </pubsub>
        </iq>
        """;

    public static string OptionsForm(params (string Var, string Value)[] fields) =>
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>"
        + string.Concat(fields.Select(f => $"<field var='{f.Var}'><value>{f.Value}</value></field>")) + "</x>";

    public static readonly string DepthAll = OptionsForm(("pubsub#subscription_type", "items"), ("pubsub#subscription_depth", "all"));

    /// <summary>Subscribes and returns the subid; fails the test on an error.</summary>
    public async Task<string> SubscribeAsync(string node, string jid, string? options = null)
    {
        var reply = await RequestAsync(Subscribe(node, jid, options), jid);
        Assert.Equal("result", (string?)reply.Attribute("type"));
        return (string)reply.Descendants(Ns.PubSub + "subscription").Single().Attribute("subid")!;
    }

    /// <summary>§4.4's outgoing-call fixture as the engine would report it.</summary>
    public static CallLeg CreatedLeg(string owner = TestUsers.Foo, string itemId = "b5879e23d6a92cc11f01a29e466f7bd2") => new(
        ItemId: itemId,
        OwnerAddress: owner,
        State: LegState.Created,
        CallId: "NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.",
        FromUri: "sip:" + owner,
        ToUri: "sip:other@example.onsip.com",
        FromTag: "419cce6a",
        ToTag: null,
        Branch: null,
        ToAor: null,
        CallSetupId: null,
        FromDisplay: null,
        ToDisplay: null,
        Timestamp: new DateTimeOffset(2009, 11, 23, 23, 28, 22, TimeSpan.Zero));

    /// <summary>§4.4's incoming-call fixture: ringing one UA of <paramref name="owner"/>.</summary>
    public static CallLeg RequestedLeg(string owner = TestUsers.Foo, string itemId = "6859babae582000ff963b29394ddb4b5") => new(
        ItemId: itemId,
        OwnerAddress: owner,
        State: LegState.Requested,
        CallId: "ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.",
        FromUri: "sip:other@example.onsip.com",
        ToUri: "sip:" + owner,
        FromTag: "53498145",
        ToTag: null,
        Branch: "z9hG4bK7bb6.4c45a015.0",
        ToAor: owner,
        CallSetupId: null,
        FromDisplay: null,
        ToDisplay: null,
        Timestamp: new DateTimeOffset(2010, 11, 2, 21, 0, 5, TimeSpan.Zero));

    public void Dispose()
    {
        _attachment.Dispose();
        PubSub.Dispose();
        Auth.Dispose();
    }
}
