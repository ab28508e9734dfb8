using System.Xml.Linq;
using ActiveCalls.Service.Commands;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Sip.CallControl;
using Gateway.Fuzz.Targets.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Fuzz.Targets.Service;

/// <summary>
/// The fuzz target of the reference service's XEP-0050 responder, <see cref="ActiveCallsCommandComponent"/>: IQ
/// requests from the network, through the handlers the component registers, to the reply bytes.
/// </summary>
public static class ServiceFuzzTargets
{
    private static readonly IOptions<ActiveCallsServiceOptions> Options =
        Microsoft.Extensions.Options.Options.Create(new ActiveCallsServiceOptions { Domain = "example.onsip.com" });

    /// <summary>
    /// <c>command-request</c>: the input's stanzas (after <see cref="FuzzStanzas.Header"/>, up to
    /// <see cref="FuzzStanzas.MaxStanzas"/>) are IQs sent to one component, one after the other, dispatched as the
    /// stream dispatches inbound IQs (id, type and a payload required, addresses parsed, the handler registered for the
    /// type and payload name). The engine behind it succeeds, or fails with a <see cref="CallControlException"/> for
    /// any value containing "fail". Each reply is serialised as the stream serialises it.
    /// </summary>
    /// <remarks>Expected: none from the handlers (the stream would turn an exception into internal-server-error, which
    /// is still a bug); <see cref="ArgumentException"/> from <see cref="XmppStreamWriter.Serialize"/>, which the stream
    /// also answers with internal-server-error.</remarks>
    public static bool CommandRequests(ReadOnlySpan<byte> input)
    {
        var stanzas = FuzzStanzas.Elements(input);
        if (stanzas.Count == 0) return false;
        var router = new CapturingRouter();
        var component = new ActiveCallsCommandComponent(new ScriptedEngine(), Options, TimeProvider.System,
            NullLogger<ActiveCallsCommandComponent>.Instance);
        using var registrations = component.Attach(router);
        bool accepted = false;
        foreach (var iq in stanzas)
        {
            if (Dispatch(router, iq) is not { } response) continue;
            accepted |= response is IqResponse.ResultResponse;
            Serialize(iq, response);
        }
        return accepted;
    }

    /// <summary>As the stream's inbound IQ handling: null when the IQ gets no handler (a protocol error reply).</summary>
    private static IqResponse? Dispatch(CapturingRouter router, XElement iq)
    {
        if (iq.Name.LocalName != "iq") return null;
        var type = (string?)iq.Attribute("type");
        var id = (string?)iq.Attribute("id");
        var payload = iq.Elements().FirstOrDefault();
        if (id is null || type is not ("get" or "set") || payload is null) return null;
        var iqType = type == "get" ? IqType.Get : IqType.Set;
        if (!router.Handlers.TryGetValue((iqType, payload.Name), out var handler)) return null;
        if (!Jid.TryParseOptional((string?)iq.Attribute("from"), out var from) || !Jid.TryParseOptional((string?)iq.Attribute("to"), out var to))
            return null;
        var pending = handler(new IqRequest(id, iqType, from, to, payload, iq), CancellationToken.None);
        if (!pending.IsCompleted) throw new FuzzOracleException("A command handler did not complete against an engine that answers at once.");
        return pending.GetAwaiter().GetResult();
    }

    /// <summary>As the stream builds and serialises the reply.</summary>
    private static void Serialize(XElement request, IqResponse response)
    {
        try
        {
            _ = XmppStreamWriter.Serialize(response.ToReply(request));
        }
        catch (ArgumentException)
        {
            // Documented: XML cannot carry a character of the reply; the stream sends internal-server-error instead.
        }
    }

    private sealed class CapturingRouter : IIqRequestRouter
    {
        public Dictionary<(IqType, XName), IqRequestHandler> Handlers { get; } = [];

        public IDisposable RegisterIqHandler(IqType type, XName payloadName, IqRequestHandler handler)
        {
            Handlers.Add((type, payloadName), handler);
            return new Registration(() => Handlers.Remove((type, payloadName)));
        }

        private sealed class Registration(Action remove) : IDisposable
        {
            public void Dispose() => remove();
        }
    }

    /// <summary>An engine that answers at once: success, or a <see cref="CallControlException"/> when a value asks for it.</summary>
    private sealed class ScriptedEngine : ICallControlEngine
    {
        public Task CreateAsync(CallSetup setup, CancellationToken cancellationToken) =>
            Outcome(setup.From, setup.To, setup.CallSetupId);

        public Task TerminateAsync(DialogId dialog, CancellationToken cancellationToken) =>
            Outcome(dialog.CallId, dialog.FromTag, dialog.ToTag);

        public Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken) =>
            Outcome(callId, fromTag);

        public Task TransferAsync(DialogId dialog, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken) =>
            Outcome(dialog.CallId, dialog.FromTag, dialog.ToTag, targetUri);

        private static Task Outcome(params string[] values) =>
            values.Any(v => v.Contains("fail", StringComparison.Ordinal))
                ? Task.FromException(new CallControlException("Failed as asked: " + string.Join(", ", values)))
                : Task.CompletedTask;
    }
}
