using System.Diagnostics;
using System.Globalization;
using System.Text;
using ActiveCalls.Service.PubSub;
using Gateway.Benchmarks.Shared;
using Gateway.Xmpp.ActiveCalls;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServiceHosting = ActiveCalls.Service.Hosting.ActiveCallsServiceExtensions;

namespace Gateway.Streaming.Benchmarks;

/// <summary>
/// One PubSub notification fanned out to many SignalR connections. The gateway (a Release build, Kestrel) runs as a
/// child process against a private Prosody; this process hosts the reference service, so it can publish one
/// <c>onsip:active-calls</c> item at a time through the service's real PubSub component, and the SignalR clients (real
/// WebSockets). Per notification it waits until every client has the event; latency = client receipt minus the event's
/// <c>occurredAt</c>, the instant the gateway's registry applied the item (one machine, one clock). See docs/benchmarks.md.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var o = FanOutOptions.Parse(args);
        if (o is null) return 2;
        await using var stack = new BenchmarkStack(o.RepositoryRoot, "fanout", o.Keep);
        try
        {
            await new FanOutBench(o, stack).RunAsync();
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("benchmark failed: " + e);
            Console.Error.WriteLine("logs kept in " + stack.Directory);
            stack.KeepDirectory = true;
            return 1;
        }
    }
}

internal sealed class FanOutOptions
{
    public int Clients { get; private set; } = 1000;
    public int Rounds { get; private set; } = 3;
    public int Notifications { get; private set; } = 40;
    public int Warmup { get; private set; } = 10;
    public TimeSpan Pause { get; private set; } = TimeSpan.FromMilliseconds(250);
    public int ConnectParallelism { get; private set; } = 50;
    public string GatewayDll { get; private set; } = "";
    public string RepositoryRoot { get; private set; } = "";
    public bool Keep { get; private set; }
    public bool StatefulReconnect { get; private set; } = true;

    public static FanOutOptions? Parse(string[] args)
    {
        var o = new FanOutOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            int Number() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--clients": o.Clients = Number(); break;
                case "--rounds": o.Rounds = Number(); break;
                case "--notifications": o.Notifications = Number(); break;
                case "--warmup": o.Warmup = Number(); break;
                case "--pause-ms": o.Pause = TimeSpan.FromMilliseconds(Number()); break;
                case "--connect-parallelism": o.ConnectParallelism = Number(); break;
                case "--gateway-dll": o.GatewayDll = Path.GetFullPath(Next()); break;
                case "--keep": o.Keep = true; break;
                case "--no-stateful-reconnect": o.StatefulReconnect = false; break;
                default:
                    Console.Error.WriteLine("usage: Gateway.Streaming.Benchmarks --gateway-dll PATH [--clients 1000] [--rounds 3] " +
                                            "[--notifications 40] [--warmup 10] [--pause-ms 250] [--connect-parallelism 50] [--no-stateful-reconnect] [--keep]");
                    return null;
            }
        }
        o.RepositoryRoot = BenchmarkStack.FindRepositoryRoot();
        if (!File.Exists(o.GatewayDll))
        {
            Console.Error.WriteLine("--gateway-dll must name the built Gateway.Api.dll");
            return null;
        }
        return o;
    }
}

/// <summary>The part of a <c>CallEvent</c> message the clients read.</summary>
internal sealed record EventMessage(string SubscriptionId, string Cursor, EventBody Event);

internal sealed record EventBody(string Id, string Type, DateTimeOffset OccurredAt, CallBody Call);

internal sealed record CallBody(IReadOnlyList<LegBody> Legs);

internal sealed record LegBody(string? CallId);

/// <summary>One notification being fanned out: every client records when it got the expected event.</summary>
internal sealed class Delivery(string dialog, string type, int clients)
{
    private int _pending = clients;

    /// <summary>Whether <paramref name="message"/> is this notification's event: its type, for the call of this SIP dialog.</summary>
    public bool Expects(EventMessage message) => message.Event.Type == type && message.Event.Call.Legs.Any(l => l.CallId == dialog);

    /// <summary>Receipt minus the gateway's occurredAt, per client (ticks).</summary>
    public long[] FromApply { get; } = new long[clients];

    /// <summary>Receipt minus the moment the harness asked the service to publish, per client (ticks).</summary>
    public long[] FromPublish { get; } = new long[clients];

    public DateTimeOffset PublishedAt { get; set; }

    public double GatewayCpuMs { get; set; }

    public double ClientsCpuMs { get; set; }

    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Received(int client, EventMessage message, DateTimeOffset now)
    {
        FromApply[client] = (now - message.Event.OccurredAt).Ticks;
        FromPublish[client] = (now - PublishedAt).Ticks;
        if (Interlocked.Decrement(ref _pending) == 0) Done.TrySetResult();
    }
}

internal sealed record RoundResult(int Round, int Notifications, long[] FromApply, long[] FromPublish, long[] LastClient,
    double GatewayCpuMsPerNotification, double ClientsCpuMsPerNotification)
{
    public static double Ms(long ticks) => ticks / (double)TimeSpan.TicksPerMillisecond;

    public static double Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : Ms(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)]);
}

internal sealed class FanOutBench(FanOutOptions o, BenchmarkStack stack)
{
    private const string Leaf = "alice@" + BenchmarkStack.Domain;
    private readonly List<HubConnection> _clients = [];
    private volatile Delivery? _current;
    private long _unexpected;

    public async Task RunAsync()
    {
        await stack.StartProsodyAsync("gateway");
        using var service = await StartServiceAsync();
        var pubSub = service.Services.GetRequiredService<ActiveCallsPubSubComponent>();
        var gateway = new Uri($"http://127.0.0.1:{BenchmarkStack.FreeTcpPort()}");
        var pid = stack.LaunchGateway(o.GatewayDll, gateway, poolSize: 2,
        [
            // Every client negotiates and connects: that is two requests per client, all on the one API key.
            "--Gateway:Http:RequestsPerSecond=100000", "--Gateway:Http:Burst=100000",
        ]);
        await stack.WaitForGatewayReadyAsync(gateway, TimeSpan.FromSeconds(90));
        var loadBefore = BenchmarkStack.LoadAverage();
        Console.Error.WriteLine($"stack up in {stack.Directory}; load average {loadBefore}");

        var idle = await GatewayMemory.ReadAsync(pid);
        Console.Error.WriteLine($"gateway before clients: {idle}");
        var connectWatch = Stopwatch.StartNew();
        await ConnectAsync(gateway);
        var connectSeconds = connectWatch.Elapsed.TotalSeconds;
        // Each client's negotiate request leaves an idle keep-alive connection, which the client closes after
        // NegotiateIdleTimeout: the reading is of the subscribers alone, as they stay.
        await Task.Delay(NegotiateIdleTimeout * 2);
        var connected = await GatewayMemory.ReadAsync(pid);
        Console.Error.WriteLine($"{o.Clients} clients connected and subscribed in {connectSeconds:F1} s; gateway: {connected}");

        var sequence = 0;
        for (var i = 0; i < o.Warmup; i++) await NotifyAsync(pubSub, sequence++, pid);
        var results = new List<RoundResult>();
        for (var round = 1; round <= o.Rounds; round++)
        {
            var deliveries = new List<Delivery>();
            for (var i = 0; i < o.Notifications; i++) deliveries.Add(await NotifyAsync(pubSub, sequence++, pid));
            var result = Summarise(round, deliveries);
            results.Add(result);
            Console.Error.WriteLine($"round {round}: apply→receipt p50 {RoundResult.Percentile(result.FromApply, 0.5):F2} ms, " +
                                    $"p99 {RoundResult.Percentile(result.FromApply, 0.99):F2} ms; last client p50 {RoundResult.Percentile(result.LastClient, 0.5):F2} ms");
        }
        var after = await GatewayMemory.ReadAsync(pid);
        Report(idle, connected, after, connectSeconds, results, loadBefore, BenchmarkStack.LoadAverage(), stack.ProsodyVersion);

        foreach (var client in _clients) await client.DisposeAsync();
        await service.StopAsync();
    }

    private async Task<IHost> StartServiceAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = stack.Directory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = BenchmarkStack.Domain,
            ["ActiveCalls:XmppHost"] = "127.0.0.1",
            ["ActiveCalls:ComponentPort"] = BenchmarkStack.Inv(stack.ComponentPort),
            ["ActiveCalls:ComponentSecret"] = stack.ComponentSecret,
            ["ActiveCalls:UsersFile"] = Path.Combine(o.RepositoryRoot, "src", "ActiveCalls.Service", "users.dev.json"),
            ["Sip:BindAddress"] = "127.0.0.1",
            ["Sip:Port"] = "0",
            ["Sip:LocalDomains:0"] = BenchmarkStack.Domain,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        ServiceHosting.AddActiveCallsService(builder);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>How long a client keeps the idle connection its negotiate request used. A connection of its own per
    /// client, left to SocketsHttpHandler's default (a minute) and Kestrel's keep-alive (130 s), doubled the gateway's
    /// connections in the memory reading (a gcdump at 1,000 clients: 2,000 Kestrel connections); a browser's idles out
    /// the same way, so it is not what a subscriber costs.</summary>
    private static readonly TimeSpan NegotiateIdleTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Connects the clients (WebSockets, stateful reconnect, as the dashboard does), each subscribed to all calls.</summary>
    private async Task ConnectAsync(Uri gateway)
    {
        var snapshots = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new SemaphoreSlim(o.ConnectParallelism);
        var tasks = Enumerable.Range(0, o.Clients).Select(async index =>
        {
            await gate.WaitAsync();
            try
            {
                var builder = new HubConnectionBuilder()
                    .WithUrl(new Uri(gateway, "hubs/calls"), options =>
                    {
                        options.Transports = HttpTransportType.WebSockets;
                        options.AccessTokenProvider = () => Task.FromResult<string?>(BenchmarkStack.ApiKey);
                        options.HttpMessageHandlerFactory = _ => new SocketsHttpHandler { PooledConnectionIdleTimeout = NegotiateIdleTimeout };
                    });
                var connection = (o.StatefulReconnect ? builder.WithStatefulReconnect() : builder).Build();
                connection.On<EventMessage>("CallEvent", message =>
                {
                    var now = DateTimeOffset.UtcNow;
                    if (_current is { } delivery && delivery.Expects(message)) delivery.Received(index, message, now);
                    else Interlocked.Increment(ref _unexpected);
                });
                connection.On<object>("CallSnapshot", _ =>
                {
                    if (Interlocked.Increment(ref snapshots) == o.Clients) all.TrySetResult();
                });
                connection.On<object>("EventsDropped", _ => Interlocked.Increment(ref _unexpected));
                await connection.StartAsync();
                await connection.InvokeAsync<object>("Subscribe", new { scope = "all" });
                lock (_clients) _clients.Add(connection);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        await all.Task.WaitAsync(TimeSpan.FromMinutes(2));
    }

    /// <summary>One notification: a new leg of a fresh call (even numbers) or the retract that ends it (odd numbers), each one
    /// PubSub message giving one call event (<c>call.callee-ringing</c>, <c>call.ended</c>).</summary>
    private async Task<Delivery> NotifyAsync(ActiveCallsPubSubComponent pubSub, int n, int gatewayPid)
    {
        var dialog = $"fanout-{n / 2}";
        var delivery = new Delivery(dialog, n % 2 == 0 ? "call.callee-ringing" : "call.ended", o.Clients);
        _current = delivery;
        var gatewayCpu = BenchmarkStack.CpuMs(gatewayPid);
        var clientsCpu = BenchmarkStack.CpuMs(Environment.ProcessId);
        delivery.PublishedAt = DateTimeOffset.UtcNow;
        var published = n % 2 == 0
            ? await pubSub.PublishAsync(Leaf, "item-" + dialog, new ActiveCallItem
            {
                DialogStateText = "requested", CallId = dialog, FromUri = "sip:bob@activecalls.test", ToUri = "sip:alice@activecalls.test",
                FromTag = "ft-" + dialog,
            })
            : await pubSub.RetractAsync(Leaf, "item-" + dialog);
        if (!published) throw new InvalidOperationException($"the service did not publish notification {n}");
        await delivery.Done.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // CPU while the fan-out was in flight (10 ms clock ticks: a single reading is coarse, the sum over a round is not).
        delivery.GatewayCpuMs = BenchmarkStack.CpuMs(gatewayPid) - gatewayCpu;
        delivery.ClientsCpuMs = BenchmarkStack.CpuMs(Environment.ProcessId) - clientsCpu;
        await Task.Delay(o.Pause);
        return delivery;
    }

    private static RoundResult Summarise(int round, List<Delivery> deliveries)
    {
        var fromApply = deliveries.SelectMany(d => d.FromApply).Order().ToArray();
        var fromPublish = deliveries.SelectMany(d => d.FromPublish).Order().ToArray();
        var last = deliveries.Select(d => d.FromApply.Max()).Order().ToArray();
        return new RoundResult(round, deliveries.Count, fromApply, fromPublish, last,
            deliveries.Average(d => d.GatewayCpuMs), deliveries.Average(d => d.ClientsCpuMs));
    }

    private void Report(MemoryReading idle, MemoryReading connected, MemoryReading after, double connectSeconds, List<RoundResult> results,
        string loadBefore, string loadAfter, string prosody)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, Prosody {prosody}; load average before {loadBefore}, after {loadAfter}");
        sb.AppendLine(inv, $"{o.Clients} SignalR clients (WebSockets, {(o.StatefulReconnect ? "stateful reconnect" : "no stateful reconnect")}, subscribed to all calls) in one process, connected in {connectSeconds:F1} s; " +
                           $"{o.Rounds} rounds of {o.Notifications} notifications (warm-up {o.Warmup}), one at a time, {o.Pause.TotalMilliseconds:F0} ms apart; " +
                           $"unexpected messages: {Interlocked.Read(ref _unexpected)}.");
        sb.AppendLine();
        sb.AppendLine("Delivery latency, from the gateway applying the PubSub item (the event's occurredAt) to receipt by a client, over every client and notification of a round; " +
                      "'last client' is the slowest client per notification (the whole fan-out); 'from publish' starts when the service was asked to publish (adds the XMPP hop); " +
                      "CPU = user+system time of the gateway process / of this process (the clients and the service) from the publish until the last client had the event, averaged over the round:");
        sb.AppendLine();
        sb.AppendLine("| round | deliveries | p50 ms | p99 ms | max ms | last client p50 ms | last client p99 ms | from publish p50 ms | from publish p99 ms | gateway CPU ms / notification | clients' CPU ms / notification |");
        sb.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
            sb.AppendLine(inv, $"| {r.Round} | {r.FromApply.Length} | {RoundResult.Percentile(r.FromApply, 0.5):F2} | {RoundResult.Percentile(r.FromApply, 0.99):F2} | " +
                               $"{RoundResult.Percentile(r.FromApply, 1.0):F2} | {RoundResult.Percentile(r.LastClient, 0.5):F2} | {RoundResult.Percentile(r.LastClient, 0.99):F2} | " +
                               $"{RoundResult.Percentile(r.FromPublish, 0.5):F2} | {RoundResult.Percentile(r.FromPublish, 0.99):F2} | {r.GatewayCpuMsPerNotification:F1} | " +
                               $"{r.ClientsCpuMsPerNotification:F1} |");
        sb.AppendLine();
        sb.AppendLine("Gateway memory (managed heap right after a full GC forced through EventPipe; working set = VmRSS):");
        sb.AppendLine();
        sb.AppendLine("| when | managed heap MiB | working set MiB |");
        sb.AppendLine("| --- | ---: | ---: |");
        sb.AppendLine(inv, $"| ready, no client | {idle.HeapMiB:F1} | {idle.WorkingSetMiB:F1} |");
        sb.AppendLine(inv, $"| {o.Clients} clients subscribed (their negotiate connections closed) | {connected.HeapMiB:F1} | {connected.WorkingSetMiB:F1} |");
        sb.AppendLine(inv, $"| after the rounds | {after.HeapMiB:F1} | {after.WorkingSetMiB:F1} |");
        sb.AppendLine(inv, $"| per client (subscribed − ready) | {(connected.HeapBytes - idle.HeapBytes) / 1024.0 / o.Clients:F1} KiB | " +
                           $"{(connected.WorkingSetBytes - idle.WorkingSetBytes) / 1024.0 / o.Clients:F1} KiB |");
        Console.Out.Write(sb.ToString());
    }
}
