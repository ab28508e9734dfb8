using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace Gateway.Soak.Streams;

/// <summary>
/// A SignalR client of <c>/hubs/calls</c> as the dashboard uses it: WebSockets, stateful reconnect, automatic reconnect
/// that never gives up. Whenever it has no subscription (at start, after a reconnect to a new connection, after the
/// gateway ended one that fell behind) it subscribes to every call with <c>afterCursor</c> set to the last cursor it
/// saw, and tries again until the gateway says yes, so a gateway restart or a slow answer costs it nothing.
/// </summary>
public sealed class SignalRObserver : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);
    private readonly HubConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _needsSubscription = new(0);
    private Task? _running;
    // The connection (server-side id) the current subscription lives on: a new connection needs a new subscription,
    // the same one needs none (a second would double every event).
    private string? _subscribedOn;

    public SignalRObserver(Uri gateway, string apiKey)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl(new Uri(gateway, "hubs/calls?access_token=" + Uri.EscapeDataString(apiKey)), HttpTransportType.WebSockets)
            .WithStatefulReconnect()
            .WithAutomaticReconnect(new ForeverRetryPolicy())
            .Build();
        _connection.On<JsonObject>("CallEvent", Ledger.Event);
        _connection.On<JsonObject>("CallSnapshot", Ledger.Snapshot);
        _connection.On<JsonObject>("EventsDropped", m =>
        {
            Ledger.Dropped(m);
            _subscribedOn = null;
            _needsSubscription.Release();
        });
        // A reconnect is a new connection on the server: the subscriptions went with the old one.
        _connection.Reconnected += _ =>
        {
            _needsSubscription.Release();
            return Task.CompletedTask;
        };
    }

    public StreamLedger Ledger { get; } = new("signalr");

    public void Start()
    {
        _needsSubscription.Release();
        _running = Task.Run(() => RunAsync(_stop.Token));
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await _needsSubscription.WaitAsync(cancellationToken);
                while (!await TrySubscribeAsync(cancellationToken)) await Task.Delay(RetryDelay, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Connects if the connection is down for good, then subscribes after the last cursor.</summary>
    private async Task<bool> TrySubscribeAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_connection.State == HubConnectionState.Disconnected) await _connection.StartAsync(cancellationToken);
            // Reconnecting or connecting: try again shortly (the state may change before Reconnected is raised).
            if (_connection.State != HubConnectionState.Connected) return false;
            var connection = _connection.ConnectionId;
            if (connection is not null && connection == _subscribedOn) return true;
            var afterCursor = Ledger.Cursor;
            var subscription = await _connection.InvokeAsync<JsonObject>("Subscribe", new { scope = "all", afterCursor }, cancellationToken);
            Ledger.Subscribed((string)subscription["subscriptionId"]!, afterCursor);
            _subscribedOn = connection;
            return true;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null) await _running;
        await _connection.DisposeAsync();
        _stop.Dispose();
        _needsSubscription.Dispose();
    }

    private sealed class ForeverRetryPolicy : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            TimeSpan.FromMilliseconds(Math.Min(2000, 250 * (retryContext.PreviousRetryCount + 1)));
    }
}
