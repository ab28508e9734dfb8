using System.Xml.Linq;
using Gateway.Api.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>One IQ the gateway sent.</summary>
public sealed record SentIq(int Number, Jid? To, IqType Type, XElement Payload, TimeSpan? Timeout)
{
    private static readonly XNamespace Commands = "http://jabber.org/protocol/commands";

    /// <summary>The stanza as it goes on the wire, without the random id (for XML assertions).</summary>
    public XElement ToStanza() =>
        new("iq", new XAttribute("type", Type.ToString().ToLowerInvariant()), To is null ? null : new XAttribute("to", To.ToString()), new XElement(Payload));

    public string? Node => (string?)Payload.Attribute("node");

    public DataForm? Form => Payload.Element(XName.Get("x", "jabber:x:data")) is { } x ? DataForm.Parse(x) : null;

    public string? Field(string var) => Form?.GetValue(var);

    public bool IsCommand => Payload.Name == Commands + "command";
}

/// <summary>
/// The scripted XMPP peer behind <see cref="IXmppPool"/>: records every IQ and answers from a script, in order. A reply of
/// <c>type="error"</c> is thrown as <see cref="XmppStanzaErrorException"/>; a step may throw (timeouts, lost streams) or
/// wait. With the script empty, a command is answered like the reference service does: <c>completed</c>, and for
/// <c>create</c> the submitted call-setup-id in a fixed field.
/// </summary>
public sealed class FakeXmppPool : IXmppPool
{
    private readonly Lock _lock = new();
    private readonly Queue<Func<SentIq, CancellationToken, Task<XElement>>> _script = new();
    private readonly List<SentIq> _sent = [];

    public const string Component = "commands.active-calls.activecalls.test";

    public Jid? LocalJid { get; } = Jid.Parse("gateway@activecalls.test/gw-test-0");

    public PoolHealth Health { get; set; } = PoolHealth.Healthy;

    public IReadOnlyList<SentIq> Sent
    {
        get { lock (_lock) return [.. _sent]; }
    }

    public string Describe() => $"fake XMPP pool ({Health})";

    /// <summary>The event receiver the events feature sees; set it and call <see cref="ChangeReceiver"/> to fail over.</summary>
    public IEventConnection? Receiver { get; set; }

    public event EventHandler<EventReceiverChanged>? ReceiverChanged;

    public void ChangeReceiver(IEventConnection? receiver, string reason = "test")
    {
        Receiver = receiver;
        ReceiverChanged?.Invoke(this, new EventReceiverChanged(receiver, reason));
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public FakeXmppPool Reply(string stanzaXml) => Enqueue((_, _) => Task.FromResult(XElement.Parse(stanzaXml)));

    public FakeXmppPool Reply(Func<SentIq, XElement> reply) => Enqueue((iq, _) => Task.FromResult(reply(iq)));

    public FakeXmppPool Throw(Exception exception) => Enqueue((_, _) => Task.FromException<XElement>(exception));

    /// <summary>Answers the next IQ only when <paramref name="release"/> completes (for concurrency tests).</summary>
    public FakeXmppPool ReplyAfter(Task release) => Enqueue(async (iq, ct) =>
    {
        await release.WaitAsync(ct);
        return DefaultReply(iq);
    });

    public FakeXmppPool Enqueue(Func<SentIq, CancellationToken, Task<XElement>> step)
    {
        lock (_lock) _script.Enqueue(step);
        return this;
    }

    public async Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        SentIq sent;
        Func<SentIq, CancellationToken, Task<XElement>>? step;
        lock (_lock)
        {
            // Serialised and parsed back, so the record is what goes on the wire, not a live object.
            sent = new SentIq(_sent.Count + 1, to, type, XElement.Parse(payload.ToString(SaveOptions.DisableFormatting)), timeout);
            _sent.Add(sent);
            _script.TryDequeue(out step);
        }
        var reply = step is null ? DefaultReply(sent) : await step(sent, cancellationToken);
        if ((string?)reply.Attribute("type") == "error") throw new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply);
        return reply;
    }

    /// <summary>A successful single-stage result; <c>create</c> echoes its call-setup-id (or <paramref name="callSetupId"/>).</summary>
    public static XElement DefaultReply(SentIq iq, string? callSetupId = null)
    {
        XNamespace commands = "http://jabber.org/protocol/commands";
        XNamespace data = "jabber:x:data";
        var command = new XElement(commands + "command",
            new XAttribute("node", iq.Node ?? ""), new XAttribute("status", "completed"), new XAttribute("sessionid", "s" + iq.Number));
        if (iq.Node == "create")
            command.Add(new XElement(data + "x", new XAttribute("type", "result"),
                new XElement(data + "field", new XAttribute("type", "fixed"), new XAttribute("var", "call-setup-id"),
                    new XElement(data + "value", callSetupId ?? iq.Field("call-setup-id")))));
        return new XElement("iq", new XAttribute("type", "result"), new XAttribute("from", Component), command);
    }

    /// <summary>An error answer shaped like OnSIP's: the command echoed, then the error.</summary>
    public static XElement ErrorReply(SentIq iq, string type, string condition, string? text = null, XName? application = null, int? code = null)
    {
        XNamespace stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
        var error = new XElement("error", new XAttribute("type", type), code is null ? null : new XAttribute("code", code), new XElement(stanzas + condition));
        if (text is not null) error.Add(new XElement(stanzas + "text", text));
        if (application is not null) error.Add(new XElement(application));
        return new XElement("iq", new XAttribute("type", "error"), new XAttribute("from", Component), new XElement(iq.Payload), error);
    }
}
