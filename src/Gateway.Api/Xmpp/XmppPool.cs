using System.Diagnostics.Metrics;
using System.Xml.Linq;
using Gateway.Api.Configuration;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.Pool;
using Gateway.Xmpp.Sasl;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Xmpp;

/// <summary>The real pool: <see cref="XmppClientPool"/> built from <see cref="XmppOptions"/>.</summary>
internal sealed class XmppPool : IXmppPool, IAsyncDisposable
{
    private readonly XmppClientPool _pool;
    private volatile string? _lastError;
    private int _disposed;

    public const string MeterName = "Gateway.Xmpp.Pool";

    public XmppPool(IOptions<XmppOptions> options, ILoggerFactory loggerFactory, TimeProvider time, IMeterFactory meterFactory)
    {
        var o = options.Value;
        var jid = Jid.Parse(o.Jid);
        var template = new XmppClientOptions
        {
            Jid = jid,
            Password = o.Password,
            Endpoint = EndpointOf(o, jid),
            Host = string.IsNullOrEmpty(o.Host) ? jid.Domain : o.Host,
            Port = o.Port,
            Tls = { TrustedCertificatePath = string.IsNullOrEmpty(o.TrustedCertificatePath) ? null : o.TrustedCertificatePath, ServerName = o.TlsServerName },
            ConnectTimeout = o.ConnectTimeout,
            DefaultIqTimeout = o.IqTimeout,
            Limits = o.Limits,
            ScramKeyCache = new ScramKeyCache(),
        };
        var poolOptions = new XmppPoolOptions { Size = o.PoolSize };
        if (!string.IsNullOrEmpty(o.InstanceName)) poolOptions.InstanceName = o.InstanceName;
        _pool = new XmppClientPool(template, poolOptions, loggerFactory, time);
        _pool.ReceiverChanged += (_, e) => ReceiverChanged?.Invoke(this, e);
        meterFactory.Create(MeterName).CreateObservableGauge("gateway.xmpp.connections", ObserveConnections, "{connection}",
            "The pool's XMPP connections, by state (connecting, established, reconnecting, failed, disconnected).");
    }

    private static readonly ConnectionState[] States = Enum.GetValues<ConnectionState>();

    private IEnumerable<Measurement<int>> ObserveConnections()
    {
        var counts = new int[States.Length];
        foreach (var connection in _pool.Connections) counts[(int)connection.State]++;
        return States.Select(s => new Measurement<int>(counts[(int)s], new KeyValuePair<string, object?>("state", s.ToString().ToLowerInvariant())));
    }

    /// <summary>The client's endpoint: <c>Endpoint</c> when set; else none, so <c>Host</c> and <c>Port</c> are used as
    /// they always were; with neither, the JID's domain, found by SRV.</summary>
    internal static string? EndpointOf(XmppOptions options, Jid jid) =>
        !string.IsNullOrEmpty(options.Endpoint) ? options.Endpoint
        : string.IsNullOrEmpty(options.Host) ? $"xmpp://{jid.Domain}"
        : null;

    public IEventConnection? Receiver => _pool.Receiver;

    /// <summary>The pooled clients themselves, for fault tests that drop a socket (<see cref="XmppClient.AbortConnection"/>).</summary>
    internal XmppClientPool Clients => _pool;

    public event EventHandler<EventReceiverChanged>? ReceiverChanged;

    public Jid? LocalJid => _pool.LocalJid;

    public PoolHealth Health => _pool.Health;

    public string Describe()
    {
        var up = _pool.Connections.Count(c => c.State == ConnectionState.Established);
        var text = $"{up} of {_pool.Connections.Count} XMPP connections established";
        return up == 0 && _lastError is { } error ? $"{text}; last error: {error}" : text;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _pool.StartAsync(cancellationToken);
            _lastError = null;
        }
        catch (Exception e)
        {
            _lastError = e.Message;
            throw;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

    public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _pool.SendIqAsync(to, type, payload, timeout, cancellationToken);

    /// <summary>Whether retrying the start cannot help (bad credentials, a refused certificate…).</summary>
    public bool IsFatal(Exception error) => _pool.Connections.Count > 0 && _pool.Connections[0].IsFatal(error);

    /// <summary>Idempotent: the host stops the pool, then the container disposes it.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? _pool.DisposeAsync() : ValueTask.CompletedTask;
}
