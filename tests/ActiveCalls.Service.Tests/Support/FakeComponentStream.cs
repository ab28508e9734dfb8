using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>
/// Stands in for a component's XMPP stream in unit tests: collects the handlers a component registers, routes IQs to
/// them as the server would (with a <c>from</c>), and records everything the component writes, replies and messages, in
/// the order the real connection writes them (a reply's <see cref="IqResponse.AfterReply"/> runs after the reply).
/// </summary>
internal sealed class FakeComponentStream : IIqRequestRouter
{
    private readonly Dictionary<(IqType, XName), IqRequestHandler> _handlers = [];
    private readonly List<XElement> _written = [];
    private readonly object _gate = new();

    /// <summary>Every stanza the component wrote, in order.</summary>
    public IReadOnlyList<XElement> Written
    {
        get { lock (_gate) return [.. _written]; }
    }

    public IReadOnlyList<XElement> Messages => [.. Written.Where(s => s.Name.LocalName == "message")];

    public void Clear()
    {
        lock (_gate) _written.Clear();
    }

    public IDisposable RegisterIqHandler(IqType type, XName payloadName, IqRequestHandler handler)
    {
        lock (_gate) _handlers.Add((type, payloadName), handler);
        return new Registration(() => { lock (_gate) _handlers.Remove((type, payloadName)); });
    }

    public Task SendAsync(XElement stanza, CancellationToken cancellationToken)
    {
        lock (_gate) _written.Add(stanza);
        return Task.CompletedTask;
    }

    /// <summary>Delivers an IQ (XML text, e.g. a sample of the reference document) to the component from
    /// <paramref name="from"/> (the server stamps it), and returns the reply the component wrote.</summary>
    public Task<XElement> RequestAsync(string iqXml, string from) => RequestAsync(XElement.Parse(iqXml), Jid.Parse(from));

    public async Task<XElement> RequestAsync(XElement iq, Jid from)
    {
        iq.SetAttributeValue("from", from.ToString());
        var id = (string?)iq.Attribute("id") ?? "";
        var type = (string?)iq.Attribute("type") == "set" ? IqType.Set : IqType.Get;
        var payload = iq.Elements().First();
        var to = Jid.TryParse((string?)iq.Attribute("to"), out var parsed) ? parsed : null;
        IqRequestHandler? handler;
        lock (_gate) _handlers.TryGetValue((type, payload.Name), out handler);
        var response = handler is null
            ? IqResponse.Failure(StanzaError.ServiceUnavailable())
            : await handler(new IqRequest(id, type, from, to, payload, iq), TestContext.Current.CancellationToken);

        var reply = new XElement("iq", new XAttribute("id", id), new XAttribute("to", from.ToString()));
        if (to is not null) reply.Add(new XAttribute("from", to.ToString()));
        switch (response)
        {
            case IqResponse.ResultResponse result:
                reply.Add(new XAttribute("type", "result"), result.Payload);
                break;
            case IqResponse.ErrorResponse error:
                reply.Add(new XAttribute("type", "error"), error.Echo, error.Error.ToXml());
                break;
        }
        lock (_gate) _written.Add(reply);
        if (response.AfterReply is { } after) await after(TestContext.Current.CancellationToken);
        return reply;
    }

    /// <summary>An <see cref="IIqSender"/> for a client at <paramref name="from"/>, so our own PubSubClient and
    /// AdHocCommandClient can be used against the component.</summary>
    public IIqSender ClientAt(Jid from) => new Sender(this, from);

    private sealed class Sender(FakeComponentStream stream, Jid from) : IIqSender
    {
        private int _next;

        public Jid? LocalJid => from;

        public async Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            var iq = new XElement("iq",
                new XAttribute("type", type == IqType.Get ? "get" : "set"),
                new XAttribute("id", "c" + Interlocked.Increment(ref _next)),
                to is null ? null : new XAttribute("to", to.ToString()),
                new XElement(payload));
            var reply = await stream.RequestAsync(iq, from);
            if ((string?)reply.Attribute("type") == "error") throw new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply);
            return reply;
        }
    }

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;
        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
