using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace Gateway.Xmpp.Tests.Fakes;

/// <summary>One IQ the code under test sent.</summary>
public sealed record SentIq(string Id, Jid? To, IqType Type, XElement Payload, TimeSpan? Timeout)
{
    /// <summary>The stanza as it would go on the wire (in no namespace, like the wiki's samples).</summary>
    public XElement ToStanza() =>
        new("iq",
            new XAttribute("type", Type.ToString().ToLowerInvariant()),
            To is null ? null : new XAttribute("to", To.ToString()),
            new XAttribute("id", Id),
            new XElement(Payload));
}

/// <summary>
/// A fake <see cref="IIqSender"/> that records every IQ sent and answers from a script, in order: a reply stanza of
/// <c>type="result"</c> is returned, one of <c>type="error"</c> is thrown as <see cref="XmppStanzaErrorException"/>
/// (built with <see cref="StanzaError.FromStanza"/>), an exception is thrown as is. With the script empty it fails
/// the send, so an unexpected IQ shows up as a test failure.
/// </summary>
public sealed class ScriptedIqSender : IIqSender
{
    private readonly Queue<Func<SentIq, XElement>> _script = new();
    private readonly List<SentIq> _sent = [];
    private readonly Lock _lock = new();

    public Jid? LocalJid { get; init; } = Jid.Parse("alice@example.com/gateway");

    public IReadOnlyList<SentIq> Sent
    {
        get { lock (_lock) return [.. _sent]; }
    }

    public SentIq LastSent
    {
        get { lock (_lock) return _sent[^1]; }
    }

    public int PendingReplies
    {
        get { lock (_lock) return _script.Count; }
    }

    /// <summary>Queues a reply stanza given as XML text (e.g. a sample copied from the wiki).</summary>
    public ScriptedIqSender Reply(string stanzaXml) => Reply(XElement.Parse(stanzaXml));

    public ScriptedIqSender Reply(XElement stanza) => Enqueue(_ => new XElement(stanza));

    /// <summary>Queues an exception (a timeout, a lost stream…).</summary>
    public ScriptedIqSender Throw(Exception exception) => Enqueue(_ => throw exception);

    public ScriptedIqSender Enqueue(Func<SentIq, XElement> step)
    {
        lock (_lock) _script.Enqueue(step);
        return this;
    }

    public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Func<SentIq, XElement> step;
        SentIq sent;
        lock (_lock)
        {
            // Serialize and re-parse, so the record is what went on the wire, not a live object the caller may mutate.
            sent = new SentIq($"iq-{_sent.Count + 1}", to, type, XElement.Parse(payload.ToString(SaveOptions.DisableFormatting)), timeout);
            _sent.Add(sent);
            if (!_script.TryDequeue(out step!))
                throw new InvalidOperationException($"Unscripted IQ sent: {sent.ToStanza()}");
        }
        var reply = step(sent);
        if ((string?)reply.Attribute("type") == "error")
            throw new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply);
        return Task.FromResult(reply);
    }
}
