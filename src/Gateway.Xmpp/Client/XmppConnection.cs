using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Tracing;
using Gateway.Xmpp.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Xmpp.Client;

/// <summary>
/// What client (c2s) and component (XEP-0114) streams share once negotiated: one reader task, one writer task behind a
/// bounded queue, IQ tracking, inbound request handlers run off the reader, filtered stanza feeds, a ping watchdog for
/// half-open sockets, and one supervisor that owns reconnection.
/// </summary>
public abstract class XmppConnection : IEventConnection, IIqRequestRouter, IAsyncDisposable
{
    private static readonly Outbound WakeWriter = new([], null, null);
    private static readonly byte[] AckRequest = StreamManagementWire.AckRequest.ToArray();

    private readonly XmppConnectionOptions _options;
    private readonly IqTracker _tracker;
    private readonly ConcurrentDictionary<(IqType, XName), IqRequestHandler> _handlers = new();
    private readonly Channel<IqRequest> _requests = Channel.CreateUnbounded<IqRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _lifetime = new();
    private readonly object _subscriptionGate = new();
    private StanzaSubscription[] _subscriptions = [];
    private volatile LiveSession? _session;
    private volatile ConnectionState _state = ConnectionState.Disconnected;
    private Task _supervisor = Task.CompletedTask;
    private Task _requestPump = Task.CompletedTask;
    private int _disposed;
    private long _droppedStanzas;

    protected XmppConnection(XmppConnectionOptions options, ILogger? logger, TimeProvider? timeProvider)
    {
        options.Validate();
        _options = options;
        Logger = logger ?? NullLogger.Instance;
        Time = timeProvider ?? TimeProvider.System;
        _tracker = new IqTracker(Time);
    }

    protected ILogger Logger { get; }
    protected TimeProvider Time { get; }

    public ConnectionState State => _state;
    public Jid? LocalJid { get; private set; }

    /// <summary>IQ requests sent and not yet answered (the pool leases by this).</summary>
    public int OutstandingIqs => _tracker.Outstanding;

    /// <summary>IQ replies dropped because they matched no waiter: late, duplicated or from the wrong sender.</summary>
    public long UnmatchedIqReplies => _tracker.UnmatchedReplies;

    /// <summary>Inbound stanzas dropped: past a <see cref="XmppConnectionOptions.Limits"/> limit, or consumed by no
    /// subscription (messages and presence from strangers).</summary>
    public long DroppedStanzas => Interlocked.Read(ref _droppedStanzas);

    /// <summary>Raised from the supervision task, never from the reader loop. Handlers should be quick.</summary>
    public event EventHandler<XmppLifecycleEvent>? Lifecycle;

    /// <summary>The XEP-0198 state of the last session, which a client may resume.</summary>
    protected StreamManagementState? StreamManagement { get; private set; }

    /// <summary>XEP-0198 acks exchanged on the current session (carried across resumptions); null without XEP-0198.</summary>
    public StreamManagementStatistics? StreamManagementStatistics => StreamManagement?.Statistics;

    /// <summary>Connects, negotiating with up to <see cref="XmppConnectionOptions.MaxInitialAttempts"/> attempts, then keeps the
    /// connection alive in the background. Throws the last error when every first attempt failed (the connection is then
    /// <see cref="ConnectionState.Failed"/> and may be started again).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_state is not (ConnectionState.Disconnected or ConnectionState.Failed))
            throw new InvalidOperationException("The connection was already started.");
        _state = ConnectionState.Connecting;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        var backoff = new ReconnectBackoff(_options.ReconnectInitialDelay, _options.ReconnectMaxDelay);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var negotiated = await NegotiateAsync(linked.Token);
                _requestPump = Task.Run(PumpRequestsAsync, CancellationToken.None);
                Activate(negotiated);
                Raise(new XmppLifecycleEvent(LifecycleKind.Established));
                _supervisor = Task.Run(SuperviseAsync, CancellationToken.None);
                return;
            }
            catch (Exception e) when (!IsFatal(e) && attempt < _options.MaxInitialAttempts && !linked.IsCancellationRequested)
            {
                var delay = backoff.Next();
                Logger.LogWarning("Connection attempt {Attempt} to {Remote} failed ({Reason}); retrying in {Delay}", attempt, Remote, e.Message, delay);
                await Task.Delay(delay, Time, linked.Token);
            }
            catch
            {
                _state = ConnectionState.Failed;
                throw;
            }
        }
    }

    /// <summary>Sends a message or presence stanza. Elements built without a namespace take the stream's default.</summary>
    /// <exception cref="XmppConnectionLostException">there is no established stream (with <c>NeverSent</c> set).</exception>
    public Task SendAsync(XElement stanza, CancellationToken cancellationToken = default)
    {
        PrepareOutbound(stanza);
        return EnqueueAsync(new Outbound(XmppStreamWriter.Serialize(stanza), stanza, null), cancellationToken);
    }

    public async Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var id = IqTracker.NewId();
        var iq = new XElement("iq",
            new XAttribute("type", type == IqType.Get ? "get" : "set"),
            new XAttribute("id", id),
            to is null ? null : new XAttribute("to", to.ToString()),
            payload);
        PrepareOutbound(iq);
        // Serialise before registering: a value XML cannot carry is the caller's error, not a lost request.
        var bytes = XmppStreamWriter.Serialize(iq);
        XmppTracing.TagIqId(id);
        var waiter = _tracker.Register(id, from => AcceptsReplyFrom(to, from), timeout ?? _options.DefaultIqTimeout, cancellationToken);
        try
        {
            await EnqueueAsync(new Outbound(bytes, iq, waiter.Fail), cancellationToken);
        }
        catch (Exception e)
        {
            waiter.Fail(e);
        }
        return await waiter.Reply;
    }

    public IDisposable RegisterIqHandler(IqType type, XName payloadName, IqRequestHandler handler)
    {
        if (!_handlers.TryAdd((type, payloadName), handler))
            throw new InvalidOperationException($"A handler for {type} {payloadName} is already registered.");
        return new Registration(() => _handlers.TryRemove(new KeyValuePair<(IqType, XName), IqRequestHandler>((type, payloadName), handler)));
    }

    public StanzaSubscription Subscribe(Func<XElement, bool> filter, int capacity = 1024)
    {
        var subscription = new StanzaSubscription(filter, capacity, Unsubscribe);
        lock (_subscriptionGate) _subscriptions = [.. _subscriptions, subscription];
        return subscription;
    }

    /// <summary>Drops the socket at once, as a network fault would. Used by the watchdog; handy for fault tests.</summary>
    public void AbortConnection(string reason = "aborted") =>
        _session?.Fail(new XmppConnectionLostException($"Connection {reason}."));

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var session = _session;
        if (session is not null && _state == ConnectionState.Established)
        {
            // A clean close ends the XEP-0198 session on the server too, so nothing waits for a resume that never comes.
            session.Outbox.Writer.TryWrite(new Outbound([], null, null, EndsStream: true));
            session.Outbox.Writer.TryComplete();
            await Task.WhenAny(session.WriterTask, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
        }
        _state = ConnectionState.Disconnected;
        await _lifetime.CancelAsync();
        session?.Fail(new XmppConnectionLostException("The connection was closed by the application."));
        _requests.Writer.TryComplete();
        await Task.WhenAll(_supervisor, _requestPump).ContinueWith(_ => { }, TaskScheduler.Default);
        _tracker.FailAll(() => new XmppConnectionLostException("The connection was closed by the application."));
        lock (_subscriptionGate)
        {
            foreach (var subscription in _subscriptions) subscription.Writer.TryComplete();
            _subscriptions = [];
        }
        _lifetime.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Negotiates a fresh transport up to the point where stanzas may flow. Bounded by the negotiation timeout;
    /// the transport is disposed by the caller when this throws.</summary>
    protected abstract Task<NegotiatedStream> NegotiateAsync(IXmppTransport transport, CancellationToken cancellationToken);

    /// <summary>Opens a fresh transport to the server: TCP to <see cref="XmppConnectionOptions.Host"/> and
    /// <see cref="XmppConnectionOptions.Port"/> unless the subclass knows better.</summary>
    protected virtual async Task<IXmppTransport> ConnectTransportAsync(CancellationToken cancellationToken) =>
        await TcpTransport.ConnectAsync(_options.Host, _options.Port, _options.Limits, _options.ConnectTimeout, cancellationToken);

    /// <summary>Where the connection goes, for log messages.</summary>
    protected virtual string Remote => $"{_options.Host}:{_options.Port}";

    private async Task<NegotiatedStream> NegotiateAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.NegotiationTimeout);
        IXmppTransport? transport = null;
        try
        {
            transport = await ConnectTransportAsync(timeout.Token);
            return await NegotiateAsync(transport, timeout.Token);
        }
        catch (Exception e)
        {
            if (transport is not null) await transport.DisposeAsync();
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new XmppConnectionLostException($"Stream negotiation with {Remote} timed out after {_options.NegotiationTimeout.TotalSeconds:0.#} s.");
            throw;
        }
    }

    /// <summary>Whether a reply to a request sent to <paramref name="requestTo"/> may come from <paramref name="from"/>.</summary>
    protected abstract bool AcceptsReplyFrom(Jid? requestTo, Jid? from);

    /// <summary>Where liveness pings go.</summary>
    protected abstract Jid PingTarget { get; }

    /// <summary>Faults that reconnecting cannot fix: authentication failures and stream errors such as <c>conflict</c>.</summary>
    public virtual bool IsFatal(Exception error) => error switch
    {
        XmppAuthenticationException => true,
        XmppStreamErrorException { Condition: "conflict" or "not-authorized" or "host-unknown" or "invalid-namespace" } => true,
        _ => false,
    };

    /// <summary>A last chance to stamp outbound stanzas (a component must set <c>from</c>).</summary>
    protected virtual void PrepareOutbound(XElement stanza) { }

    private async Task EnqueueAsync(Outbound item, CancellationToken cancellationToken)
    {
        var session = _session;
        if (session is null || _state != ConnectionState.Established)
            throw new XmppConnectionLostException($"No established XMPP stream (state {_state}).") { NeverSent = true };
        try
        {
            await session.Outbox.Writer.WriteAsync(item, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new XmppConnectionLostException("The XMPP stream closed before the stanza could be sent.") { NeverSent = true };
        }
    }

    private void Activate(NegotiatedStream negotiated)
    {
        LocalJid = negotiated.LocalJid;
        StreamManagement = negotiated.StreamManagement;
        var session = new LiveSession(negotiated, Channel.CreateBounded<Outbound>(new BoundedChannelOptions(_options.SendQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        }), Time.GetUtcNow());
        foreach (var stanza in negotiated.SendFirst)
            session.Outbox.Writer.TryWrite(new Outbound(XmppStreamWriter.Serialize(stanza), stanza, null));
        session.ReaderTask = Task.Run(() => ReadLoopAsync(session), CancellationToken.None);
        session.WriterTask = Task.Run(() => WriteLoopAsync(session), CancellationToken.None);
        session.WatchdogTask = Task.Run(() => WatchdogAsync(session), CancellationToken.None);
        _session = session;
        _state = ConnectionState.Established;
    }

    private async Task SuperviseAsync()
    {
        var token = _lifetime.Token;
        while (!token.IsCancellationRequested)
        {
            var session = _session!;
            var reason = await session.Ended;
            await session.StopAsync();
            if (token.IsCancellationRequested) return;

            if (IsFatal(reason))
            {
                Fail(reason);
                return;
            }

            // A stream we could not parse is never resumed: the server would hand the same bytes on again.
            var resumable = StreamManagement is { Resumable: true } && reason is not XmppProtocolException;
            _state = ConnectionState.Reconnecting;
            Logger.LogWarning("XMPP stream to {Remote} lost: {Reason}", Remote, reason.Message);
            if (resumable) Raise(new XmppLifecycleEvent(LifecycleKind.Suspended, reason));
            else
            {
                Destroy(reason, StreamManagement?.TakeUnacked());
                StreamManagement = null;
            }

            var backoff = new ReconnectBackoff(_options.ReconnectInitialDelay, _options.ReconnectMaxDelay);
            NegotiatedStream? next = null;
            while (next is null && !token.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(backoff.Next(), Time, token);
                    next = await NegotiateAsync(token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (IsFatal(e))
                {
                    Fail(e);
                    return;
                }
                catch (Exception e)
                {
                    Logger.LogWarning("Reconnecting to {Remote} failed: {Reason}", Remote, e.Message);
                }
            }
            if (next is null) return;

            XmppMetrics.Reconnects.Add(1, new KeyValuePair<string, object?>("resumed", next.Resumed));
            if (next.Resumed)
            {
                Activate(next);
                Logger.LogInformation("XMPP stream to {Remote} resumed; {Count} stanzas re-sent", Remote, next.SendFirst.Count);
                Raise(new XmppLifecycleEvent(LifecycleKind.Resumed));
            }
            else
            {
                if (resumable) Destroy(reason, next.Lost);
                Activate(next);
                Logger.LogInformation("XMPP stream to {Remote} re-established as {Jid}", Remote, next.LocalJid);
                Raise(new XmppLifecycleEvent(LifecycleKind.Established));
            }
        }
    }

    private void Destroy(Exception reason, IReadOnlyList<XElement>? lost)
    {
        _tracker.FailAll(() => new XmppConnectionLostException("The XMPP stream was lost before the reply arrived.", reason));
        Raise(new XmppLifecycleEvent(LifecycleKind.Destroyed, reason, lost));
    }

    private void Fail(Exception reason)
    {
        _state = ConnectionState.Failed;
        Logger.LogError("XMPP connection to {Remote} stopped for good: {Reason}", Remote, reason.Message);
        Destroy(reason, StreamManagement?.TakeUnacked());
        StreamManagement = null;
        Raise(new XmppLifecycleEvent(LifecycleKind.Failed, reason));
    }

    private void Raise(XmppLifecycleEvent lifecycleEvent)
    {
        try { Lifecycle?.Invoke(this, lifecycleEvent); }
        catch (Exception e) { Logger.LogError(e, "A lifecycle handler threw"); }
    }

    private async Task ReadLoopAsync(LiveSession session)
    {
        var sm = session.Negotiated.StreamManagement;
        try
        {
            while (true)
            {
                var next = await session.Negotiated.Transport.ReadAsync(session.Token);
                session.LastReceived = Time.GetUtcNow();
                if (next is XmlStreamEvent.StreamClosed)
                    throw new XmppConnectionLostException("The server closed the stream.");
                if (next is XmlStreamEvent.StanzaSkipped skipped)
                {
                    OnStanzaSkipped(session, skipped);
                    continue;
                }
                if (next is not XmlStreamEvent.Element { Value: var element })
                    throw new XmppProtocolException("Unexpected stream header inside the stream.");

                if (element.Name == Ns.Stream + "error") throw XmppStreamErrorException.Parse(element);
                if (element.Name.Namespace == Ns.StreamManagement)
                {
                    HandleStreamManagement(session, element);
                    continue;
                }
                if (!StreamManagementState.Counts(element)) continue;
                sm?.OnInboundStanza();

                if (element.Name.LocalName == "iq") HandleIq(session, element);
                else await DispatchAsync(element, session.Token);
            }
        }
        catch (Exception e)
        {
            session.Fail(e is OperationCanceledException ? new XmppConnectionLostException("The connection was closed.") : e);
        }
    }

    /// <summary>A stanza past the <see cref="XmppConnectionOptions.Limits"/> costs only itself: counted as handled for
    /// XEP-0198 (so the server never delivers it again), a waiting request it answers fails at once, a request gets a
    /// <c>policy-violation</c> error, and it is logged and counted.</summary>
    private void OnStanzaSkipped(LiveSession session, XmlStreamEvent.StanzaSkipped skipped)
    {
        var stub = skipped.Stub;
        Interlocked.Increment(ref _droppedStanzas);
        XmppMetrics.DroppedStanzas.Add(1, new KeyValuePair<string, object?>("reason", "limit"));
        Logger.LogWarning("Dropped an inbound <{Name}> from {From} ({Bytes} bytes): {Reason}",
            stub?.Name.LocalName ?? "?", (string?)stub?.Attribute("from") ?? "an unknown sender", skipped.Bytes, skipped.Reason);
        // Without its name it may have been a nonza, which XEP-0198 does not count; too few handled is safe (the server
        // at worst re-sends it, and it is dropped again), too many breaks the session.
        if (stub is null || !StreamManagementState.Counts(stub)) return;
        session.Negotiated.StreamManagement?.OnInboundStanza();
        if (stub.Name.LocalName != "iq") return;
        switch ((string?)stub.Attribute("type"))
        {
            case "result" or "error":
                _tracker.TryFail(stub, new XmppProtocolException($"The reply to IQ '{(string?)stub.Attribute("id")}' was dropped unread: {skipped.Reason}."));
                break;
            case "get" or "set" when stub.Attribute("id") is not null:
                _ = Reply(session, stub, IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "policy-violation", $"Stanza refused: {skipped.Reason}")));
                break;
        }
    }

    private void HandleStreamManagement(LiveSession session, XElement element)
    {
        var sm = session.Negotiated.StreamManagement;
        if (sm is null) return;
        switch (element.Name.LocalName)
        {
            case "r":
                // The answer is written by the writer in its next flush, with whatever else is queued. When the queue is
                // full the writer is busy and will flush soon anyway, so a failed wake-up loses nothing.
                if (sm.OnAckRequested()) session.Outbox.Writer.TryWrite(WakeWriter);
                break;
            case "a" when uint.TryParse((string?)element.Attribute("h"), out var h):
                if (!sm.OnAck(h))
                    Logger.LogWarning("The server acknowledged {H} stanzas, more than were sent ({Acknowledged} acknowledged, {Unacked} waiting)",
                        h, sm.Acknowledged, sm.UnackedCount);
                break;
        }
    }

    private void HandleIq(LiveSession session, XElement iq)
    {
        var type = (string?)iq.Attribute("type");
        if (type is "result" or "error")
        {
            if (!_tracker.TryComplete(iq))
                Logger.LogDebug("Dropped an IQ {Type} with id {Id} from {From} that no request was waiting for", type, (string?)iq.Attribute("id"), (string?)iq.Attribute("from"));
            return;
        }
        var id = (string?)iq.Attribute("id");
        var payload = iq.Elements().FirstOrDefault();
        if (id is null || type is not ("get" or "set") || payload is null)
        {
            _ = Reply(session, iq, IqResponse.Failure(StanzaError.BadRequest("IQ without id, type or payload")));
            return;
        }
        var iqType = type == "get" ? IqType.Get : IqType.Set;
        if (iqType == IqType.Get && payload.Name == Ns.Ping + "ping")
        {
            _ = Reply(session, iq, IqResponse.Result());
            return;
        }
        if (!_handlers.ContainsKey((iqType, payload.Name)))
        {
            _ = Reply(session, iq, IqResponse.Failure(StanzaError.ServiceUnavailable()));
            return;
        }
        if (!Jid.TryParseOptional((string?)iq.Attribute("from"), out var from) || !Jid.TryParseOptional((string?)iq.Attribute("to"), out var to))
        {
            _ = Reply(session, iq, IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "jid-malformed")));
            return;
        }
        _requests.Writer.TryWrite(new IqRequest(id, iqType, from, to, payload, iq));
    }

    private async Task PumpRequestsAsync()
    {
        using var slots = new SemaphoreSlim(_options.MaxConcurrentRequestHandlers);
        var running = new List<Task>();
        await foreach (var request in _requests.Reader.ReadAllAsync(CancellationToken.None))
        {
            await slots.WaitAsync(CancellationToken.None);
            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(async () =>
            {
                try { await HandleRequestAsync(request); }
                finally { slots.Release(); }
            }));
        }
        await Task.WhenAll(running);
    }

    private async Task HandleRequestAsync(IqRequest request)
    {
        IqResponse response;
        if (!_handlers.TryGetValue((request.Type, request.Payload.Name), out var handler))
            response = IqResponse.Failure(StanzaError.ServiceUnavailable());
        else
        {
            // WaitAsync: a handler that ignores its token must not hold up shutdown.
            try { response = await handler(request, _lifetime.Token).WaitAsync(_lifetime.Token); }
            catch (OperationCanceledException) when (_lifetime.IsCancellationRequested) { return; }
            catch (XmppStanzaErrorException e) { response = IqResponse.Failure(e.Error); }
            catch (Exception e)
            {
                Logger.LogError(e, "Handler for {Payload} failed", request.Payload.Name);
                response = IqResponse.Failure(StanzaError.InternalServerError());
            }
        }
        var session = _session;
        if (session is null || _state != ConnectionState.Established)
        {
            Logger.LogWarning("Dropped the reply to IQ {Id}: the stream is down", request.Id);
            return;
        }
        if (!await Reply(session, request.Stanza, response) || response.AfterReply is not { } after) return;
        try { await after(_lifetime.Token); }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested) { }
        catch (Exception e) { Logger.LogError(e, "The follow-up of the reply to {Payload} failed", request.Payload.Name); }
    }

    /// <summary>Queues a reply; the task says whether the reply as answered was queued (false when it was dropped, or
    /// replaced by an <c>internal-server-error</c> because XML cannot carry it). It waits only while the send queue is
    /// full; the reader loop does not wait for it.</summary>
    private Task<bool> Reply(LiveSession session, XElement request, IqResponse response)
    {
        var reply = response.ToReply(request);
        byte[] bytes;
        var intended = true;
        try { bytes = XmppStreamWriter.Serialize(reply); }
        catch (ArgumentException e)
        {
            Logger.LogError(e, "A reply to IQ {Id} could not be serialised", (string?)request.Attribute("id"));
            bytes = XmppStreamWriter.Serialize(new XElement("iq", reply.Attributes().Where(a => a.Name != "type"),
                new XAttribute("type", "error"), StanzaError.InternalServerError().ToXml()));
            intended = false;
        }
        var item = new Outbound(bytes, reply, null);
        return session.Outbox.Writer.TryWrite(item) ? Task.FromResult(intended) : QueueReplyAsync(session, item, intended);
    }

    private async Task<bool> QueueReplyAsync(LiveSession session, Outbound item, bool intended)
    {
        try
        {
            await session.Outbox.Writer.WriteAsync(item, session.Token);
            return intended;
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            Logger.LogWarning("Dropped an IQ reply: {Reason}", e.Message);
            return false;
        }
    }

    private async ValueTask DispatchAsync(XElement stanza, CancellationToken cancellationToken)
    {
        var subscriptions = Volatile.Read(ref _subscriptions);
        var consumed = false;
        foreach (var subscription in subscriptions)
        {
            bool matches;
            try { matches = subscription.Filter(stanza); }
            catch (Exception e)
            {
                Logger.LogError(e, "A stanza filter threw");
                continue;
            }
            if (!matches) continue;
            consumed = true;
            try { await subscription.Writer.WriteAsync(stanza, cancellationToken); }
            catch (ChannelClosedException) { }
        }
        if (consumed) return;
        // Strangers' messages and presence, and anything forged as an event from an entity nobody listens to, end here.
        Interlocked.Increment(ref _droppedStanzas);
        XmppMetrics.DroppedStanzas.Add(1, new KeyValuePair<string, object?>("reason", "unhandled"));
        Logger.LogDebug("Dropped a <{Name}> from {From} that nothing here consumes", stanza.Name.LocalName, (string?)stanza.Attribute("from"));
    }

    private void Unsubscribe(StanzaSubscription subscription)
    {
        lock (_subscriptionGate) _subscriptions = _subscriptions.Where(s => s != subscription).ToArray();
    }

    /// <summary>One send per batch of queued stanzas, so a burst costs the server one read. XEP-0198 elements ride in the
    /// same batch: the answer to the server's <c>&lt;r/&gt;</c> and our own request, after the stanzas they cover.</summary>
    private async Task WriteLoopAsync(LiveSession session)
    {
        var sm = session.Negotiated.StreamManagement;
        var batch = new List<ReadOnlyMemory<byte>>();
        var wire = new ArrayBufferWriter<byte>(128);
        var reader = session.Outbox.Reader;
        try
        {
            var ended = false;
            while (!ended && await reader.WaitToReadAsync(session.Token))
            {
                batch.Clear();
                wire.ResetWrittenCount();
                var size = 0;
                while (size < 64 * 1024 && reader.TryRead(out var item))
                {
                    if (item.EndsStream)
                    {
                        // XEP-0198 §4: an ack right before a clean close, so the server does not bounce or re-send what we had.
                        if (sm is not null) batch.Add(Ack(wire, sm.Inbound));
                        ended = true;
                        break;
                    }
                    if (item.Bytes.Length == 0) continue;
                    batch.Add(item.Bytes);
                    size += item.Bytes.Length;
                    if (sm is not null && item.Stanza is not null && StreamManagementState.Counts(item.Stanza)) sm.OnSent(item.Stanza);
                }
                if (sm is not null && !ended)
                {
                    if (sm.TryTakeOwedAck(out var h)) batch.Add(Ack(wire, h));
                    if (sm.TryBeginAckRequest()) batch.Add(AckRequest);
                }
                if (batch.Count == 0 && !ended) continue;
                await session.Negotiated.Transport.SendAsync(batch, closeStream: ended, session.Token);
            }
        }
        catch (Exception e)
        {
            session.Fail(e is IOException or ObjectDisposedException
                ? new XmppConnectionLostException("Writing to the XMPP stream failed: " + e.Message, e)
                : e);
        }
    }

    /// <summary>An ack written into the batch's small scratch buffer (an earlier slice stays valid if it grows).</summary>
    private static ReadOnlyMemory<byte> Ack(ArrayBufferWriter<byte> wire, uint h)
    {
        var start = wire.WrittenCount;
        StreamManagementWire.WriteAck(wire, h);
        return wire.WrittenMemory[start..];
    }

    private async Task WatchdogAsync(LiveSession session)
    {
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, _options.PingInterval.Ticks / 4));
        using var timer = new PeriodicTimer(tick, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(session.Token))
            {
                // Stanzas sent in a lull stay unconfirmed until the window fills; ask once the writer has gone quiet.
                if (session.Negotiated.StreamManagement?.RequestAckIfIdle() == true) session.Outbox.Writer.TryWrite(WakeWriter);
                if (Time.GetUtcNow() - session.LastReceived < _options.PingInterval) continue;
                try
                {
                    await SendIqAsync(PingTarget, IqType.Get, new XElement(Ns.Ping + "ping"), _options.PingTimeout, session.Token);
                }
                catch (XmppIqTimeoutException)
                {
                    Logger.LogWarning("No answer to a ping within {Timeout}; dropping the half-open connection", _options.PingTimeout);
                    session.Fail(new XmppConnectionLostException($"No answer to a ping within {_options.PingTimeout.TotalSeconds:0.#} s (half-open connection)."));
                    return;
                }
                catch (XmppStanzaErrorException)
                {
                    // Any answer, even an error, proves the link is alive.
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (XmppConnectionLostException) { }
    }

    /// <summary>A negotiated stream, handed from the subclass's negotiation to the shared loops. <c>SendFirst</c> goes out
    /// before anything else and is counted by XEP-0198 (re-sent stanzas after a resume, or the initial presence);
    /// <c>Lost</c> lists what a failed resume could not deliver.</summary>
    protected sealed record NegotiatedStream(
        IXmppTransport Transport,
        Jid LocalJid,
        StreamManagementState? StreamManagement,
        bool Resumed,
        IReadOnlyList<XElement> SendFirst,
        IReadOnlyList<XElement> Lost);

    /// <summary>Queued bytes; <c>Stanza</c> when XEP-0198 counts them; <c>EndsStream</c> for the closing tag, after which
    /// nothing more is written.</summary>
    private sealed record Outbound(byte[] Bytes, XElement? Stanza, Action<Exception>? OnDropped, bool EndsStream = false);

    private sealed class LiveSession(NegotiatedStream negotiated, Channel<Outbound> outbox, DateTimeOffset now) : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly TaskCompletionSource<Exception> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public NegotiatedStream Negotiated { get; } = negotiated;
        public Channel<Outbound> Outbox { get; } = outbox;
        public CancellationToken Token => _cts.Token;
        public Task<Exception> Ended => _ended.Task;
        public DateTimeOffset LastReceived { get; set; } = now;
        public Task ReaderTask { get; set; } = Task.CompletedTask;
        public Task WriterTask { get; set; } = Task.CompletedTask;
        public Task WatchdogTask { get; set; } = Task.CompletedTask;

        public void Fail(Exception reason)
        {
            if (!_ended.TrySetResult(reason)) return;
            Outbox.Writer.TryComplete();
            try { _cts.Cancel(); } catch (ObjectDisposedException) { }
            Negotiated.Transport.Abort();
        }

        public async Task StopAsync()
        {
            await Task.WhenAll(ReaderTask, WriterTask, WatchdogTask);
            // Whatever never reached the socket is reported as never sent, so callers may retry it safely.
            while (Outbox.Reader.TryRead(out var item))
                item.OnDropped?.Invoke(new XmppConnectionLostException("The XMPP stream was lost before the stanza was sent.") { NeverSent = true });
            await Negotiated.Transport.DisposeAsync();
            Dispose();
        }

        public void Dispose() => _cts.Dispose();
    }

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;
        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
