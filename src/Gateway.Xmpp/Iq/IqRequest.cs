using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Iq;

/// <summary>An inbound IQ get/set addressed to us.</summary>
public sealed record IqRequest(string Id, IqType Type, Jid? From, Jid? To, XElement Payload, XElement Stanza);

/// <summary>What a request handler answers: a result (with an optional payload) or an error (with optional echoed children,
/// as OnSIP's components echo the submitted command).</summary>
public abstract record IqResponse
{
    private IqResponse() { }

    /// <summary>Runs once the reply has been queued on the stream, so whatever it sends is written after the reply: a
    /// PubSub service's <c>subscribed</c> notification after its <c>pending</c> result, for example. Not run when the
    /// reply could not be queued (the stream was down). Exceptions are logged, never sent.</summary>
    public Func<CancellationToken, Task>? AfterReply { get; init; }

    public sealed record ResultResponse(XElement? Payload) : IqResponse;
    public sealed record ErrorResponse(StanzaError Error, IReadOnlyList<XElement> Echo) : IqResponse;

    public static IqResponse Result(XElement? payload = null) => new ResultResponse(payload);
    public static IqResponse Failure(StanzaError error, params XElement[] echo) => new ErrorResponse(error, echo);

    /// <summary>The reply stanza to <paramref name="request"/>: its id, and its <c>from</c>/<c>to</c> swapped.</summary>
    public XElement ToReply(XElement request)
    {
        var reply = new XElement("iq", new XAttribute("id", (string?)request.Attribute("id") ?? ""));
        if (request.Attribute("from") is { } from) reply.Add(new XAttribute("to", from.Value));
        if (request.Attribute("to") is { } to) reply.Add(new XAttribute("from", to.Value));
        switch (this)
        {
            case ResultResponse result:
                reply.Add(new XAttribute("type", "result"), result.Payload);
                break;
            case ErrorResponse error:
                reply.Add(new XAttribute("type", "error"), error.Echo, error.Error.ToXml());
                break;
        }
        return reply;
    }
}

/// <summary>Handles inbound IQ requests for one payload element. Runs off the reader loop; may take its time.</summary>
public delegate Task<IqResponse> IqRequestHandler(IqRequest request, CancellationToken cancellationToken);

/// <summary>Where inbound IQ handlers are registered. Requests with no handler are answered <c>service-unavailable</c>.</summary>
public interface IIqRequestRouter
{
    /// <summary>Routes IQs of <paramref name="type"/> whose payload is <paramref name="payloadName"/> to <paramref name="handler"/> until disposed.</summary>
    IDisposable RegisterIqHandler(IqType type, XName payloadName, IqRequestHandler handler);
}

/// <summary>Inbound message and presence stanzas, handed to consumers through bounded channels (never on the reader loop).</summary>
public interface IStanzaSource
{
    /// <summary>
    /// Starts delivering every inbound <c>&lt;message/&gt;</c> and <c>&lt;presence/&gt;</c> that <paramref name="filter"/> accepts,
    /// in arrival order. The filter runs on the reader loop, so it must be cheap and must not block.
    /// When the subscription's buffer is full the reader waits (TCP back-pressure) rather than drop.
    /// </summary>
    StanzaSubscription Subscribe(Func<XElement, bool> filter, int capacity = 1024);
}
