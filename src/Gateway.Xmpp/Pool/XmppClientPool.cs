using System.Runtime.ExceptionServices;
using System.Xml.Linq;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Xmpp.Pool;

public enum PoolHealth
{
    /// <summary>Every connection is established.</summary>
    Healthy,
    /// <summary>Some connections are down and reconnecting; requests still flow.</summary>
    Degraded,
    /// <summary>No connection is established; requests fail fast.</summary>
    Unhealthy,
}

/// <summary>Raised when the connection that should hold the PubSub subscription changes, or starts a new session (its
/// server-side subscription state is gone): the owner must subscribe again on <see cref="Receiver"/>, which is null
/// while no connection is established.</summary>
public sealed record EventReceiverChanged(IEventConnection? Receiver, string Reason);

/// <summary>
/// N client connections of one account with stable unique resources. One connection is designated to receive events,
/// with fail-over; requests lease the established connection with the fewest outstanding IQs among the others (the event
/// connection only when no other is up, see <see cref="LeaseForCommand{TConnection}"/>); a request that never reached a
/// socket is tried on another (the only layer that retries it).
/// </summary>
public sealed class XmppClientPool : IIqSender, IAsyncDisposable
{
    private readonly List<XmppClient> _clients = [];
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly List<Task> _retries = [];
    private readonly CancellationTokenSource _stopping = new();
    private XmppClient? _receiver;

    public XmppClientPool(XmppClientOptions template, XmppPoolOptions poolOptions, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        poolOptions.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger<XmppClientPool>();
        for (var slot = 0; slot < poolOptions.Size; slot++)
        {
            var client = new XmppClient(template.WithResource($"{poolOptions.ResourcePrefix}-{poolOptions.InstanceName}-{slot}"),
                loggerFactory.CreateLogger<XmppClient>(), timeProvider);
            client.Lifecycle += OnLifecycle;
            _clients.Add(client);
        }
    }

    public IReadOnlyList<XmppClient> Connections => _clients;

    public Jid? LocalJid => _clients.FirstOrDefault(c => c.State == ConnectionState.Established)?.LocalJid;

    /// <summary>The connection that should hold the event subscription, or null while none is established.</summary>
    public IEventConnection? Receiver => CurrentReceiver;

    /// <summary>Raised outside the pool's lock, from a connection's supervision task.</summary>
    public event EventHandler<EventReceiverChanged>? ReceiverChanged;

    private XmppClient? CurrentReceiver { get { lock (_gate) return _receiver; } }

    public PoolHealth Health
    {
        get
        {
            var up = _clients.Count(c => c.State == ConnectionState.Established);
            return up == _clients.Count ? PoolHealth.Healthy : up == 0 ? PoolHealth.Unhealthy : PoolHealth.Degraded;
        }
    }

    /// <summary>Connects every slot at once. Succeeds when at least one connects; slots whose first connection failed for a
    /// reason retrying can fix keep trying in the background. Throws the first error when none could connect.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var starts = _clients.Select(c => c.StartAsync(cancellationToken)).ToArray();
        try { await Task.WhenAll(starts); }
        catch when (starts.Any(s => s.IsCompletedSuccessfully))
        {
            for (var slot = 0; slot < starts.Length; slot++)
            {
                if (!starts[slot].IsFaulted) continue;
                var error = starts[slot].Exception!.GetBaseException();
                _logger.LogWarning("Pooled XMPP connection {Slot} failed to start: {Reason}", slot, error.Message);
                if (!_clients[slot].IsFatal(error)) _retries.Add(RetryStartAsync(_clients[slot], _stopping.Token));
            }
        }
        AssignReceiver("started");
    }

    private async Task RetryStartAsync(XmppClient client, CancellationToken cancellationToken)
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(backoff.Next(), cancellationToken);
                await client.StartAsync(cancellationToken);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return; }
            catch (Exception e) when (!client.IsFatal(e))
            {
                _logger.LogWarning("Pooled XMPP connection still not started: {Reason}", e.Message);
            }
            catch (Exception e)
            {
                _logger.LogError("Pooled XMPP connection gave up: {Reason}", e.Message);
                return;
            }
        }
    }

    private XmppClient? Lease(IReadOnlyList<XmppClient> tried) =>
        LeaseForCommand(_clients, CurrentReceiver, tried, c => c.State == ConnectionState.Established ? c.OutstandingIqs : null);

    /// <summary>
    /// The established connection with the fewest outstanding IQs among those not <paramref name="tried"/>, leaving the
    /// <paramref name="eventReceiver"/> out while any other is available. <paramref name="load"/> is a connection's
    /// outstanding IQs, or null when it is not established.
    /// </summary>
    /// <remarks>
    /// Commands stay off the event connection because of Nagle's algorithm, which servers leave on by default (Prosody
    /// 0.12 does): a notification the server has just written to a connection is unacknowledged until the client's
    /// delayed ACK (40 ms on Linux), and an IQ result the server writes to that same connection meanwhile waits for that
    /// ACK. A command connection receives little but its own results, so nothing is in flight ahead of them. The
    /// receiver still carries commands when it is the only connection left, late rather than not at all.
    /// </remarks>
    internal static TConnection? LeaseForCommand<TConnection>(IReadOnlyList<TConnection> connections, TConnection? eventReceiver,
        IReadOnlyList<TConnection> tried, Func<TConnection, int?> load)
        where TConnection : class
    {
        TConnection? best = null;
        var bestLoad = 0;
        foreach (var connection in connections)
        {
            if (connection == eventReceiver || tried.Contains(connection) || load(connection) is not { } outstanding) continue;
            if (best is null || outstanding < bestLoad) (best, bestLoad) = (connection, outstanding);
        }
        if (best is not null || eventReceiver is null || tried.Contains(eventReceiver)) return best;
        return load(eventReceiver) is null ? null : eventReceiver;
    }

    /// <summary>
    /// Sends on the connection <see cref="LeaseForCommand{TConnection}"/> picks. This is the one retry layer for an IQ that
    /// never reached a socket: it is moved at once to another established connection, each tried at most once. An IQ
    /// that may have been sent (the stream died after the write, a timeout, an error answer) is never retried here:
    /// the peer may have carried it out.
    /// </summary>
    /// <exception cref="XmppConnectionLostException">with <c>NeverSent</c> set: no connection is established, or none
    /// of the established ones could send it.</exception>
    public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        // A copy per attempt: the element is attached to the IQ it was sent in.
        SendOnAnyAsync<XmppClient>(Lease, client => client.SendIqAsync(to, type, new XElement(payload), timeout, cancellationToken),
            client => _logger.LogDebug("IQ not sent on {Resource}; trying another connection", client.LocalJid?.Resource));

    /// <summary>The retry of <see cref="SendIqAsync"/>, over any kind of connection so that tests can count the attempts.
    /// <paramref name="lease"/> picks a connection not among those already tried, or null when none is left.</summary>
    internal static async Task<XElement> SendOnAnyAsync<TConnection>(
        Func<IReadOnlyList<TConnection>, TConnection?> lease, Func<TConnection, Task<XElement>> send, Action<TConnection>? notSent = null)
        where TConnection : class
    {
        var tried = new List<TConnection>();
        XmppConnectionLostException? lastNotSent = null;
        while (lease(tried) is { } connection)
        {
            try
            {
                return await send(connection).ConfigureAwait(false);
            }
            catch (XmppConnectionLostException e) when (e.NeverSent)
            {
                // Safe to retry: the request never reached a socket, so the peer cannot have executed it.
                lastNotSent = e;
                tried.Add(connection);
                notSent?.Invoke(connection);
            }
        }
        if (lastNotSent is not null) ExceptionDispatchInfo.Throw(lastNotSent);
        throw new XmppConnectionLostException("No XMPP connection is established.") { NeverSent = true };
    }

    private void OnLifecycle(object? sender, XmppLifecycleEvent e)
    {
        var client = (XmppClient)sender!;
        switch (e.Kind)
        {
            case LifecycleKind.Established when client == CurrentReceiver:
                Notify(client, "the event connection started a new session");
                break;
            case LifecycleKind.Established:
                AssignReceiver("a connection came up");
                break;
            case LifecycleKind.Destroyed or LifecycleKind.Failed or LifecycleKind.Suspended when client == CurrentReceiver:
                AssignReceiver($"the event connection went down ({e.Kind}: {e.Reason?.Message})", exclude: client);
                break;
        }
    }

    private void AssignReceiver(string reason, XmppClient? exclude = null)
    {
        XmppClient? chosen;
        lock (_gate)
        {
            if (_receiver is not null && _receiver != exclude && _receiver.State == ConnectionState.Established) return;
            chosen = _clients.FirstOrDefault(c => c != exclude && c.State == ConnectionState.Established);
            if (chosen == _receiver) return;
            _receiver = chosen;
        }
        Notify(chosen, reason);
    }

    private void Notify(XmppClient? receiver, string reason)
    {
        _logger.LogInformation("Event connection is now {Resource}: {Reason}", receiver?.LocalJid?.Resource ?? "(none)", reason);
        try { ReceiverChanged?.Invoke(this, new EventReceiverChanged(receiver, reason)); }
        catch (Exception ex) { _logger.LogError(ex, "A ReceiverChanged handler threw"); }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_retries);
        foreach (var client in _clients) client.Lifecycle -= OnLifecycle;
        await Task.WhenAll(_clients.Select(c => c.DisposeAsync().AsTask()));
        _stopping.Dispose();
    }
}
