using Microsoft.AspNetCore.SignalR;

namespace Gateway.Api.Streaming;

/// <summary>
/// <c>/hubs/calls</c>: live call events over SignalR (JSON protocol, stateful reconnect). A connection holds up to
/// <see cref="StreamingOptions.MaxSubscriptionsPerConnection"/> subscriptions; each starts with a <c>CallSnapshot</c>
/// (or the events missed after <c>afterCursor</c>) and then gets <c>CallEvent</c>s in log order. The messages of a new
/// subscription may arrive before <see cref="Subscribe"/>'s result; they carry the id it returns.
/// </summary>
public sealed class CallsHub(CallStreamService streams, IHubContext<CallsHub> hub) : Hub<ICallsClient>
{
    public const string Path = "/hubs/calls";
    private const string ConnectionItem = "call-stream";

    public override Task OnConnectedAsync()
    {
        var connection = streams.Open(Context.ConnectionId, "signalr", Context.User ?? new System.Security.Claims.ClaimsPrincipal());
        Context.Items[ConnectionItem] = connection;
        connection.Start(new SignalRCallStreamSink(hub.Clients.Client(Context.ConnectionId)));
        return Task.CompletedTask;
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        // Every subscription goes with the connection (a stateful reconnect keeps the connection, so it keeps them).
        if (Context.Items.Remove(ConnectionItem, out var item) && item is CallStreamConnection connection) await connection.DisposeAsync();
    }

    /// <summary>Subscribes to <c>all</c> calls the API key may see, one <c>address</c> or one <c>call</c>.</summary>
    public async Task<CallStreamSubscription> Subscribe(CallStreamSubscribeRequest request)
    {
        try
        {
            return await streams.SubscribeAsync(Connection, request, Context.ConnectionAborted);
        }
        catch (CallStreamException e)
        {
            throw new HubException(e.Message);
        }
    }

    /// <summary>Ends a subscription; nothing more of it is sent. Unknown (or already ended) ids are ignored.</summary>
    public void Unsubscribe(string subscriptionId)
    {
        if (string.IsNullOrEmpty(subscriptionId)) throw new HubException("subscriptionId is required.");
        Connection.Remove(subscriptionId);
    }

    private CallStreamConnection Connection => Context.Items.TryGetValue(ConnectionItem, out var item) && item is CallStreamConnection connection
        ? connection
        : throw new HubException("The connection is closing.");
}

/// <summary>Sends a connection's messages as the <see cref="ICallsClient"/> methods; SignalR's own pings keep it alive.</summary>
internal sealed class SignalRCallStreamSink(IClientProxy client) : ICallStreamSink
{
    public TimeSpan? HeartbeatInterval => null;

    public ValueTask SendSnapshotAsync(CallSnapshotMessage message, CancellationToken cancellationToken) =>
        new(client.SendAsync(nameof(ICallsClient.CallSnapshot), message, cancellationToken));

    public ValueTask SendEventAsync(CallEventMessage message, CancellationToken cancellationToken) =>
        new(client.SendAsync(nameof(ICallsClient.CallEvent), message, cancellationToken));

    public async ValueTask<bool> SendDroppedAsync(EventsDroppedMessage message, CancellationToken cancellationToken)
    {
        await client.SendAsync(nameof(ICallsClient.EventsDropped), message, cancellationToken);
        return false;
    }

    public ValueTask SendHeartbeatAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
