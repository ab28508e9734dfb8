using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.Tests.PubSub;

/// <summary>A scripted <see cref="IIqSender"/>: records every IQ sent and answers with the next scripted reply stanza,
/// written as the wire XML. A <c>type='error'</c> reply is thrown as <see cref="XmppStanzaErrorException"/>, as the real
/// sender does.</summary>
internal sealed class PubSubScriptedSender : IIqSender
{
    private readonly Queue<XElement> _replies = new();

    public sealed record SentIq(Jid? To, IqType Type, XElement Payload);

    public Jid? LocalJid { get; init; } = Jid.Parse("alice@example.com/gateway");

    public List<SentIq> Sent { get; } = [];

    public PubSubScriptedSender Reply(string iqXml)
    {
        _replies.Enqueue(XElement.Parse(iqXml));
        return this;
    }

    public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Sent.Add(new SentIq(to, type, new XElement(payload)));
        if (!_replies.TryDequeue(out var reply))
            throw new InvalidOperationException($"No scripted reply left for: {payload}");
        if ((string?)reply.Attribute("type") == "error")
            throw new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply);
        return Task.FromResult(reply);
    }
}

/// <summary>Compares XML by meaning: names, attributes (in any order, namespace declarations ignored), child elements in
/// order, and trimmed text of leaf elements.</summary>
internal static class PubSubXml
{
    public static void AssertEqual(string expectedXml, XElement actual) =>
        Assert.Equal(Canonical(XElement.Parse(expectedXml)), Canonical(actual));

    public static string Canonical(XElement element) => Normalize(element).ToString();

    private static XElement Normalize(XElement element) =>
        new(element.Name,
            element.Attributes().Where(a => !a.IsNamespaceDeclaration)
                .OrderBy(a => a.Name.ToString(), StringComparer.Ordinal)
                .Select(a => new XAttribute(a.Name, a.Value)),
            element.HasElements
                ? element.Elements().Select(Normalize)
                : string.IsNullOrWhiteSpace(element.Value) ? null : element.Value.Trim());
}
