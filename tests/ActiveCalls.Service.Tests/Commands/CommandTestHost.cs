using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ActiveCalls.Service.Commands;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Service.Tests.Fakes;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ActiveCalls.Service.Tests.Commands;

/// <summary>
/// The command component attached to a <see cref="RecordingRouter"/>: requests go to the handler the stream would pick,
/// and replies are built, serialised and parsed back as the stream would send them, so escaping is exercised too.
/// </summary>
internal sealed class CommandTestHost
{
    public const string Alice = "alice@example.com/psi";
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(5);

    public CommandTestHost()
    {
        var options = Options.Create(new ActiveCallsServiceOptions { Domain = "xmpp.onsip.com", CommandSessionLifetime = SessionLifetime });
        Component = new ActiveCallsCommandComponent(Engine, options, Time, Logger);
        Component.Attach(Router);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero));
    public ScriptedCallControlEngine Engine { get; } = new();
    public RecordingLogger<ActiveCallsCommandComponent> Logger { get; } = new();
    public RecordingRouter Router { get; } = new();
    public ActiveCallsCommandComponent Component { get; }

    /// <summary>Sends a whole stanza (e.g. one of the seed's requests) as if it came from <paramref name="from"/>.</summary>
    public Task<XElement> SendAsync(string stanza, string from = Alice) => SendAsync(XElement.Parse(stanza), from);

    public async Task<XElement> SendAsync(XElement iq, string from = Alice)
    {
        iq = new XElement(iq);
        iq.SetAttributeValue("from", from);
        iq.SetAttributeValue("to", (string?)iq.Attribute("to") ?? ActiveCallsSeed.ComponentJid);
        iq.SetAttributeValue("id", (string?)iq.Attribute("id") ?? "t1");
        var type = (string?)iq.Attribute("type") == "get" ? IqType.Get : IqType.Set;
        var payload = iq.Elements().First();
        var request = new IqRequest((string)iq.Attribute("id")!, type, Jid.Parse(from), Jid.Parse((string)iq.Attribute("to")!), payload, iq);
        var handler = Router.Find(type, payload.Name) ?? throw new InvalidOperationException($"No handler for {type} {payload.Name}.");
        return ToWire(iq, await handler(request, TestContext.Current.CancellationToken));
    }

    /// <summary>Sends <c>&lt;iq type=set&gt;</c> with a <c>&lt;command/&gt;</c> payload.</summary>
    public Task<XElement> CommandAsync(XElement command, string from = Alice) =>
        SendAsync(new XElement("iq", new XAttribute("type", "set"), command), from);

    /// <summary>Starts a multi-stage session of <paramref name="node"/> and returns its session id.</summary>
    public async Task<string> StartAsync(string node, string from = Alice)
    {
        var reply = await CommandAsync(Stanzas.Command(node), from);
        Assert.Equal("result", (string?)reply.Attribute("type"));
        return (string)reply.Element(Ns.Commands + "command")!.Attribute("sessionid")!;
    }

    /// <summary>What <c>XmppConnection</c> writes for a handler's response, serialised and read back.</summary>
    public static XElement ToWire(XElement request, IqResponse response)
    {
        var reply = new XElement("iq", new XAttribute("id", (string)request.Attribute("id")!),
            new XAttribute("to", (string)request.Attribute("from")!), new XAttribute("from", (string)request.Attribute("to")!));
        switch (response)
        {
            case IqResponse.ResultResponse result:
                reply.Add(new XAttribute("type", "result"), result.Payload);
                break;
            case IqResponse.ErrorResponse error:
                reply.Add(new XAttribute("type", "error"), error.Echo, error.Error.ToXml());
                break;
        }
        return XElement.Parse(Encoding.UTF8.GetString(XmppStreamWriter.Serialize(reply)));
    }
}

/// <summary>Builders for the stanzas the tests send.</summary>
internal static class Stanzas
{
    /// <summary>The <c>&lt;command/&gt;</c> payload of one of the seed's request stanzas.</summary>
    public static XElement SeedCommand(string stanza) => new(XElement.Parse(stanza).Element(Ns.Commands + "command")!);

    /// <summary>A seed request's command with its sessionid replaced by ours.</summary>
    public static XElement SeedCommand(string stanza, string sessionId)
    {
        var command = SeedCommand(stanza);
        command.SetAttributeValue("sessionid", sessionId);
        return command;
    }

    public static XElement Command(string node, string? sessionId = null, string? action = null, XElement? form = null) =>
        new(Ns.Commands + "command",
            new XAttribute("node", node),
            sessionId is null ? null : new XAttribute("sessionid", sessionId),
            action is null ? null : new XAttribute("action", action),
            form);

    /// <summary>A submit form as OnSIP's OXJS client writes it: fields without a type.</summary>
    public static XElement Submit(params (string Var, string? Value)[] fields) =>
        new(Ns.DataForms + "x", new XAttribute("type", "submit"),
            fields.Select(f => new XElement(Ns.DataForms + "field", new XAttribute("var", f.Var),
                f.Value is null ? null : new XElement(Ns.DataForms + "value", f.Value))));

    public static XElement Create(string? from = "sip:foo@example.onsip.com", string? to = "sip:bar@example.onsip.com", string? callSetupId = null) =>
        Submit(("from", from), ("to", to), ("call-setup-id", callSetupId));

    public static XElement Terminate(string callId = "a-valid-callid", string fromTag = "a-from-tag", string toTag = "a-to-tag") =>
        Submit(("call-id", callId), ("from-tag", fromTag), ("to-tag", toTag));

    public static XElement Transfer(string endpoint = "caller", string targetUri = "sip:bob@example.com") =>
        Submit(("call-id", "a-valid-call-id"), ("from-tag", "the-from-tag"), ("to-tag", "the-to-tag"), ("endpoint", endpoint), ("target-uri", targetUri));

    public static XElement Cancel(string callId = "a-ringing-callid", string fromTag = "a-from-tag") =>
        Submit(("call-id", callId), ("from-tag", fromTag));

    public static XElement Get(XElement payload) => new("iq", new XAttribute("type", "get"), payload);
}

/// <summary>Compares replies with the seed's reply stanzas.</summary>
internal static partial class SeedAssert
{
    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex SessionIdPattern();

    public static void IsSessionId(string? value) =>
        Assert.True(value is not null && SessionIdPattern().IsMatch(value), $"'{value}' is not 32 lower-case hex digits.");

    /// <summary>
    /// The reply has the seed reply's IQ type and, child for child, the same XML (attribute order, prefixes and white
    /// space aside). Every <c>sessionid</c> of the reply must be 32 hex digits (and <paramref name="sessionId"/> when
    /// given); it is then compared as the seed's. The addresses and <c>xml:lang</c> of the IQ itself are not compared.
    /// </summary>
    public static void MatchesSeed(string seedStanza, XElement reply, string? sessionId = null, string? callSetupId = null)
    {
        var seed = XElement.Parse(seedStanza);
        Assert.Equal((string?)seed.Attribute("type"), (string?)reply.Attribute("type"));
        var actual = new XElement("iq", WithoutStreamNamespace(reply).Elements());
        var seedSessionId = (string?)seed.Descendants(Ns.Commands + "command").First().Attribute("sessionid");
        foreach (var command in actual.Elements(Ns.Commands + "command"))
        {
            var id = (string?)command.Attribute("sessionid");
            IsSessionId(id);
            if (sessionId is not null) Assert.Equal(sessionId, id);
            command.SetAttributeValue("sessionid", seedSessionId);
        }
        if (callSetupId is not null)
        {
            var value = CallSetupIdOf(actual);
            Assert.Equal(callSetupId, value.Value);
            value.Value = CallSetupIdOf(seed).Value;
        }
        XmlAssert.Equivalent(new XElement("iq", seed.Elements()), actual);
    }

    /// <summary>A copy in which the elements a client received in <c>jabber:client</c> (the IQ, its <c>&lt;error/&gt;</c>)
    /// have no namespace, as in the seed's text.</summary>
    public static XElement WithoutStreamNamespace(XElement stanza)
    {
        var copy = new XElement(stanza);
        foreach (var element in copy.DescendantsAndSelf().Where(e => e.Name.Namespace == Ns.Client))
        {
            element.Name = element.Name.LocalName;
            element.Attributes().Where(a => a.IsNamespaceDeclaration && a.Value == Ns.Client.NamespaceName).Remove();
        }
        return copy;
    }

    private static XElement CallSetupIdOf(XElement iq) =>
        iq.Descendants(Ns.DataForms + "field").Single(f => (string?)f.Attribute("var") == "call-setup-id").Element(Ns.DataForms + "value")!;
}
