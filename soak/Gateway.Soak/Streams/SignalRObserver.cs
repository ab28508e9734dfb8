using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace Gateway.Soak.Streams;

/// <summary>
/// A SignalR client of <c>/hubs/calls</c> as the dashboard uses it: WebSockets, stateful reconnect, automatic reconnect
/// that never gives up. Each time a connection is (re)established it subscribes to every call with
/// <c>afterCursor</c> set to the last cursor it saw, so a gateway restart costs it nothing.
/// </summary>
public sealed class SignalRObserver : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

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
            // The gateway ended this subscription; subscribe again after the last cursor.
            _ = SubscribeAsync(_stop.Token);
        });
        _connection.Reconnected += _ => SubscribeAsync(_stop.Token);
        _connection.Closed += _ =>
        {
            // Closed for good (the automatic reconnect gave up or never started): start over.
            if (!_stop.IsCancellationRequested) _running = Task.Run(() => ConnectAsync(_stop.Token));
            return Task.CompletedTask;
        };
    }

    public StreamLedger Ledger { get; } = new("signalr");

    public void Start() => _running = Task.Run(() => ConnectAsync(_stop.Token));

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _connection.StartAsync(cancellationToken);
                await SubscribeAsync(cancellationToken);
                return;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await _connection.StopAsync(CancellationToken.None);
                    await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _connection.InvokeAsync<JsonObject>("Subscribe", new { scope = "all", afterCursor = Ledger.Cursor }, cancellationToken);
            Ledger.Connected();
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // The connection broke under the call: the reconnect that follows subscribes again.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _connection.DisposeAsync();
        if (_running is not null)
        {
            try
            {
                await _running;
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private sealed class ForeverRetryPolicy : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            TimeSpan.FromMilliseconds(Math.Min(2000, 250 * (retryContext.PreviousRetryCount + 1)));
    }
}
