using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Client;

/// <summary>
/// A subscription on the gateway's SignalR hub (<c>/hubs/calls</c>) as an endless sequence, on a connection of its own
/// (stateful reconnect, automatic reconnect). When the connection is replaced, or the gateway ends the subscription
/// because the client fell behind (<c>EventsDropped</c>), it subscribes again after the last cursor it handed out, so
/// the gateway replays what was missed (or sends a reset snapshot).
/// </summary>
internal sealed class SignalRCallStream(GatewayClientOptions options)
{
    public const string HubPath = "hubs/calls";

    public async IAsyncEnumerable<CallStreamItem> ReadAsync(CallStreamScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var items = Channel.CreateUnbounded<CallStreamItem>(new UnboundedChannelOptions { SingleReader = true });
        var subscription = new Subscription(scope);
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(options.BaseAddress, HubPath), http =>
            {
                http.AccessTokenProvider = () => Task.FromResult<string?>(options.ApiKey);
            })
            .AddJsonProtocol(json => GatewayClientJson.Configure(json.PayloadSerializerOptions))
            .WithAutomaticReconnect(new Backoff(options))
            .WithStatefulReconnect()
            .Build();

        connection.On<CallSnapshotMessage>("CallSnapshot", m =>
        {
            if (subscription.Accepts(m.SubscriptionId, m.Cursor)) items.Writer.TryWrite(new CallStreamSnapshot(m.Cursor, m.Reset, [.. m.Calls]));
        });
        connection.On<CallEventMessage>("CallEvent", m =>
        {
            if (subscription.Accepts(m.SubscriptionId, m.Cursor)) items.Writer.TryWrite(new CallStreamEvent(m.Cursor, m.Event));
        });
        connection.On<EventsDroppedMessage>("EventsDropped", m =>
        {
            if (subscription.Retire(m.SubscriptionId)) _ = SubscribeAsync(connection, subscription, items.Writer, cancellationToken);
        });
        // A new connection (the stateful one could not be resumed) has no subscriptions: subscribe again after the last cursor.
        connection.Reconnected += _ => SubscribeAsync(connection, subscription, items.Writer, cancellationToken);
        connection.Closed += e =>
        {
            items.Writer.TryComplete(e);
            return Task.CompletedTask;
        };

        await connection.StartAsync(cancellationToken);
        await SubscribeAsync(connection, subscription, items.Writer, cancellationToken);
        await foreach (var item in items.Reader.ReadAllAsync(cancellationToken))
            yield return item;
    }

    private static async Task SubscribeAsync(HubConnection connection, Subscription subscription, ChannelWriter<CallStreamItem> items, CancellationToken cancellationToken)
    {
        try
        {
            await connection.InvokeAsync("Subscribe", subscription.NextRequest(), cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // A refused subscription (forbidden, unknown call, bad cursor) ends the stream with the hub's reason.
            items.TryComplete(e);
        }
    }

    /// <summary>Which subscription's messages the stream takes, and where a new one starts. The messages of a new
    /// subscription may come before <c>Subscribe</c> answers; those of one that ended never again.</summary>
    private sealed class Subscription(CallStreamScope scope)
    {
        private readonly Lock _gate = new();
        private readonly HashSet<string> _ended = [];
        private string? _lastCursor = scope.AfterCursor;

        public object NextRequest()
        {
            lock (_gate)
                return new { scope = scope.Scope, address = scope.Address, callId = scope.CallId, afterCursor = _lastCursor };
        }

        public bool Accepts(string subscriptionId, string cursor)
        {
            lock (_gate)
            {
                if (_ended.Contains(subscriptionId)) return false;
                _lastCursor = cursor;
                return true;
            }
        }

        /// <summary>Ends the subscription (after <c>EventsDropped</c>); false when it had ended already.</summary>
        public bool Retire(string subscriptionId)
        {
            lock (_gate) return _ended.Add(subscriptionId);
        }
    }

    /// <summary>SignalR's reconnect schedule from the client's options: doubling from the first delay, never giving up.</summary>
    private sealed class Backoff(GatewayClientOptions options) : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            TimeSpan.FromTicks(Math.Min(options.MaxReconnectDelay.Ticks, options.ReconnectDelay.Ticks * (1L << (int)Math.Min(retryContext.PreviousRetryCount, 16))));
    }
}
