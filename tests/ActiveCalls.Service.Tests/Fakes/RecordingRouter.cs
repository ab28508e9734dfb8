using System.Xml.Linq;
using Gateway.Xmpp.Iq;

namespace ActiveCalls.Service.Tests.Fakes;

/// <summary>An <see cref="IIqRequestRouter"/> that keeps the handlers, so tests can call them as the stream would.</summary>
public sealed class RecordingRouter : IIqRequestRouter
{
    private readonly Dictionary<(IqType, XName), IqRequestHandler> _handlers = [];

    public IReadOnlyCollection<(IqType Type, XName Payload)> Registered => [.. _handlers.Keys];

    public IDisposable RegisterIqHandler(IqType type, XName payloadName, IqRequestHandler handler)
    {
        if (!_handlers.TryAdd((type, payloadName), handler))
            throw new InvalidOperationException($"A handler for {type} {payloadName} is already registered.");
        return new Registration(() => _handlers.Remove((type, payloadName)));
    }

    /// <summary>The handler for the request, or <see langword="null"/> (the stream would answer service-unavailable).</summary>
    public IqRequestHandler? Find(IqType type, XName payloadName) => _handlers.GetValueOrDefault((type, payloadName));

    private sealed class Registration(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
