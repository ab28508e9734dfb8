using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Configuration;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Turns call events into queued deliveries. It reads the registry through a lossless subscription taken when it is
/// constructed (before any hosted service starts, so no event of this process is missed), and writes each batch of
/// events with one transaction as soon as it arrives. When the store fails, the events wait in memory and the write
/// is retried (reported by the <c>webhooks</c> health check) — nothing is dropped while the process lives.
/// </summary>
public sealed class WebhookEventWriter : BackgroundService
{
    private const int MaxBatch = 256;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly CallEventSubscription _events;
    private readonly WebhookStore _store;
    private readonly WebhookDispatcher _dispatcher;
    private readonly IOptionsMonitor<ApiKeysOptions> _keys;
    private readonly JsonSerializerOptions _json;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookEventWriter> _logger;
    private volatile string? _lastError;

    public WebhookEventWriter(CallRegistry registry, WebhookStore store, WebhookDispatcher dispatcher, IOptionsMonitor<ApiKeysOptions> keys,
        IOptions<JsonOptions> json, TimeProvider time, ILogger<WebhookEventWriter> logger)
    {
        _events = registry.Subscribe();
        _store = store;
        _dispatcher = dispatcher;
        _keys = keys;
        _json = json.Value.SerializerOptions;
        _time = time;
        _logger = logger;
    }

    /// <summary>Why the last write failed, while events wait to be stored; null when writes succeed.</summary>
    public string? LastError => _lastError;

    /// <summary>Events read from the registry and not yet stored.</summary>
    public int Waiting => _events.Reader.Count;

    /// <summary>Whether <paramref name="subscription"/> gets <paramref name="e"/>: an event type it asked for, a call its
    /// owner's API key may see (a party or leg in scope; a key that no longer exists sees nothing) and, when it has an
    /// address filter, a party or leg at that address.</summary>
    public static bool Matches(StoredSubscription subscription, CallEvent e, AddressScope? ownerScope)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(e);
        if (ownerScope is null || subscription.State != WebhookState.Enabled) return false;
        if (subscription.EventTypes is { } types && !types.Contains(e.Type, StringComparer.Ordinal)) return false;
        var addresses = CallRegistry.AddressesOf(e.Call).ToList();
        if (!ownerScope.AllowsAny(addresses)) return false;
        return subscription.Address is not { } wanted ||
               addresses.Any(a => string.Equals(SipUri.AddressOf(a), wanted, StringComparison.Ordinal));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<CallEvent>();
        try
        {
            while (await _events.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < MaxBatch && _events.Reader.TryRead(out var e)) batch.Add(e);
                await StoreUntilDoneAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: whatever the registry published so far still goes to disk, once.
            while (_events.Reader.TryRead(out var e)) batch.Add(e);
            if (batch.Count == 0) return;
            try
            {
                await StoreAsync(batch, CancellationToken.None);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "{Count} call events could not be stored for webhooks while stopping", batch.Count);
            }
        }
        finally
        {
            _events.Dispose();
        }
    }

    private async Task StoreUntilDoneAsync(List<CallEvent> batch, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await StoreAsync(batch, stoppingToken);
                if (_lastError is not null) _logger.LogInformation("Webhook events are stored again");
                _lastError = null;
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _lastError = e.Message;
                _logger.LogError(e, "{Count} call events could not be stored for webhooks; they wait in memory, next try in {Delay}", batch.Count + Waiting, delay);
                await Task.Delay(delay, _time, stoppingToken);
                delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            }
        }
    }

    private async Task StoreAsync(List<CallEvent> batch, CancellationToken cancellationToken)
    {
        var subscriptions = await _store.EnabledSubscriptionsAsync(cancellationToken);
        if (subscriptions.Count == 0) return;
        var scopes = _keys.CurrentValue.ApiKeys.ToDictionary(k => k.Name, k => new AddressScope(k.Scopes), StringComparer.Ordinal);
        var deliveries = new List<NewDelivery>();
        foreach (var e in batch)
        {
            string? payload = null;
            foreach (var subscription in subscriptions)
            {
                if (!Matches(subscription, e, scopes.GetValueOrDefault(subscription.Owner))) continue;
                payload ??= JsonSerializer.Serialize(new WebhookPayload(e.Type, e.OccurredAt, e), _json);
                deliveries.Add(new NewDelivery(subscription.Id, e, payload));
            }
        }
        await _store.EnqueueAsync(deliveries, cancellationToken);
        if (deliveries.Count > 0) _dispatcher.Wake();
    }
}
