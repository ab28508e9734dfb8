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
/// Turns call events into queued deliveries: a consumer of the <see cref="CallEventPublisher"/> (its own lossless queue),
/// writing each batch with one transaction as soon as it arrives, together with the log position the queue is complete
/// up to. At start it first replays the call log after that position, so events committed just before the previous
/// process died are queued too (with a durable call store whose log is the same epoch). When the webhook store fails,
/// the events wait in the queue and the write is retried (reported by the <c>webhooks</c> health check).
/// </summary>
public sealed class WebhookEventWriter(
    WebhookStore webhooks, WebhookDispatcher dispatcher, IServiceProvider services, IOptionsMonitor<ApiKeysOptions> keys, IOptions<JsonOptions> json,
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

    private string _epoch = "";

    /// <summary>Queues what the call log holds after the checkpoint of the previous run, before any new event.</summary>
    public async ValueTask StartAsync(CallLogHead head, ICallStore store, CancellationToken cancellationToken)
    {
        _epoch = head.Epoch;
        try
        {
            var checkpoint = await webhooks.CheckpointAsync(cancellationToken);
            if (checkpoint is null || checkpoint.Epoch != head.Epoch || checkpoint.Position >= head.Position) return;
            var replayed = 0;
            for (var after = checkpoint.Position; after < head.Position;)
            {
                var batch = await store.ReadLogAsync(after, 256, cancellationToken);
                if (batch.Count == 0) break;
                await StoreAsync(batch, cancellationToken);
                replayed += batch.Count;
                after = batch[^1].Position;
            }
            if (replayed > 0) logger.LogInformation("Queued {Count} call events for webhooks that the previous run committed but had not queued", replayed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Calls must not wait for webhooks: start anyway, and say what may be missing.
            _lastError = e.Message;
            logger.LogError(e, "Could not queue the call events of the previous run for webhooks");
        }
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
        var subscriptions = await webhooks.EnabledSubscriptionsAsync(cancellationToken);
        var checkpoint = new CallLogHead(_epoch, batch[^1].Position);
        if (subscriptions.Count == 0)
        {
            await webhooks.EnqueueAsync([], checkpoint, cancellationToken);
            return;
        }
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
        await webhooks.EnqueueAsync(deliveries, checkpoint, cancellationToken);
        if (deliveries.Count > 0) dispatcher.Wake();
    }
}
