using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Calls.Store;
using Gateway.Api.Configuration;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Webhooks;

/// <summary>
/// Turns call events into queued deliveries: a consumer of the <see cref="CallEventPublisher"/> (its own lossless queue,
/// registered before the tracker starts, so no event of this process is missed), writing each batch with one
/// transaction as soon as it arrives. When the store fails, the events wait in the queue and the write is retried
/// (reported by the <c>webhooks</c> health check) — nothing is dropped while the process lives.
/// </summary>
public sealed class WebhookEventWriter(
    WebhookStore store, WebhookDispatcher dispatcher, IServiceProvider services, IOptionsMonitor<ApiKeysOptions> keys, IOptions<JsonOptions> json,
    TimeProvider time, ILogger<WebhookEventWriter> logger) : ICallEventConsumer
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;
    private volatile string? _lastError;

    public string Name => "webhooks";

    /// <summary>Why the last write failed, while events wait to be stored; null when writes succeed.</summary>
    public string? LastError => _lastError;

    /// <summary>Events published and not yet stored (the publisher is resolved lazily: it is built from its consumers).</summary>
    public int Waiting => services.GetRequiredService<CallEventPublisher>().Backlogs.GetValueOrDefault(Name);

    /// <summary>Whether <paramref name="subscription"/> gets <paramref name="e"/>: an event type it asked for, a call its
    /// owner's API key may see (a party or leg in scope; a key that no longer exists sees nothing) and, when it has an
    /// address filter, a party or leg at that address.</summary>
    public static bool Matches(StoredSubscription subscription, CallEvent e, AddressScope? ownerScope)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(e);
        if (ownerScope is null || subscription.State != WebhookState.Enabled) return false;
        if (subscription.EventTypes is { } types && !types.Contains(e.Type, StringComparer.Ordinal)) return false;
        var addresses = CallAddresses.Of(e.Call).ToList();
        if (!ownerScope.AllowsAny(addresses)) return false;
        return subscription.Address is not { } wanted ||
               addresses.Any(a => string.Equals(SipUri.AddressOf(a), wanted, StringComparison.Ordinal));
    }

    public async ValueTask HandleAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await StoreAsync(batch, cancellationToken);
                if (_lastError is not null) logger.LogInformation("Webhook events are stored again");
                _lastError = null;
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _lastError = e.Message;
                logger.LogError(e, "{Count} call events could not be stored for webhooks; they wait in memory, next try in {Delay}", batch.Count + Waiting, delay);
                await Task.Delay(delay, time, cancellationToken);
                delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            }
        }
    }

    private async Task StoreAsync(IReadOnlyList<StoredCallEvent> batch, CancellationToken cancellationToken)
    {
        var subscriptions = await store.EnabledSubscriptionsAsync(cancellationToken);
        if (subscriptions.Count == 0) return;
        var scopes = keys.CurrentValue.ApiKeys.ToDictionary(k => k.Name, k => new AddressScope(k.Scopes), StringComparer.Ordinal);
        var deliveries = new List<NewDelivery>();
        foreach (var e in batch.Select(stored => stored.Event))
        {
            string? payload = null;
            foreach (var subscription in subscriptions)
            {
                if (!Matches(subscription, e, scopes.GetValueOrDefault(subscription.Owner))) continue;
                payload ??= JsonSerializer.Serialize(new WebhookPayload(e.Type, e.OccurredAt, e), _json);
                deliveries.Add(new NewDelivery(subscription.Id, e, payload));
            }
        }
        await store.EnqueueAsync(deliveries, cancellationToken);
        if (deliveries.Count > 0) dispatcher.Wake();
    }
}
