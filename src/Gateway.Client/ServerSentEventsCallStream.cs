using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Gateway.Client;

/// <summary>
/// <c>GET /calls/stream</c> as an endless sequence: when the response ends or the connection fails it reconnects (after
/// <see cref="GatewayClientOptions.ReconnectDelay"/> or the gateway's <c>retry:</c>, doubled per failure in a row) with
/// <c>Last-Event-ID</c> set to the last message's cursor, so the gateway replays exactly what was missed. When it cannot,
/// the stream goes on with a <see cref="CallStreamSnapshot"/> whose <c>Reset</c> is true.
/// </summary>
internal sealed class ServerSentEventsCallStream(HttpClient http, GatewayClientOptions options)
{
    public async IAsyncEnumerable<CallStreamItem> ReadAsync(CallStreamScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lastCursor = scope.AfterCursor;
        var retry = options.ReconnectDelay;
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Stream? body = null;
            HttpResponseMessage? response = null;
            try
            {
                response = await http.SendAsync(Request(scope, lastCursor), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                body = await response.Content.ReadAsStreamAsync(cancellationToken);
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                response?.Dispose();
            }

            var received = false;
            if (body is not null)
            {
                using var _ = response;
                await using var __ = body;
                var parser = SseParser.Create(body, (type, data) => Parse(type, data));
                await using var messages = parser.EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
                while (true)
                {
                    try
                    {
                        if (!await messages.MoveNextAsync()) break;
                    }
                    catch (Exception e) when (IsTransient(e, cancellationToken))
                    {
                        break;
                    }
                    if (parser.ReconnectionInterval > TimeSpan.Zero) retry = parser.ReconnectionInterval;
                    var message = messages.Current.Data;
                    if (message is null) continue;
                    received = true;
                    failures = 0;
                    lastCursor = message.Cursor;
                    // After 'dropped' the gateway ends the response; the reconnect resumes after its cursor.
                    if (message is not DroppedItem) yield return message;
                }
            }
            // A response that ended after messages (dropped, the gateway stopping) reconnects at once.
            if (received) continue;

            var delay = TimeSpan.FromTicks(Math.Min(options.MaxReconnectDelay.Ticks, retry.Ticks * (1L << Math.Min(failures, 16))));
            failures++;
            await Task.Delay(delay, cancellationToken);
        }
    }

    private static HttpRequestMessage Request(CallStreamScope scope, string? lastCursor)
    {
        var query = "calls/stream?scope=" + Uri.EscapeDataString(scope.Scope);
        if (scope.Address is not null) query += "&address=" + Uri.EscapeDataString(scope.Address);
        if (scope.CallId is not null) query += "&callId=" + Uri.EscapeDataString(scope.CallId);
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(query, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastCursor is not null) request.Headers.Add("Last-Event-ID", lastCursor);
        return request;
    }

    /// <summary>Reads one message by its event type; types this client does not know are skipped.</summary>
    internal static CallStreamItem? Parse(string type, ReadOnlySpan<byte> data) => type switch
    {
        "snapshot" => JsonSerializer.Deserialize<CallSnapshotMessage>(data, GatewayClientJson.Options) is { } m
            ? new CallStreamSnapshot(m.Cursor, m.Reset, [.. m.Calls])
            : null,
        "call" => JsonSerializer.Deserialize<CallEventMessage>(data, GatewayClientJson.Options) is { } m ? new CallStreamEvent(m.Cursor, m.Event) : null,
        "dropped" => JsonSerializer.Deserialize<EventsDroppedMessage>(data, GatewayClientJson.Options) is { } m ? new DroppedItem(m.Cursor) : null,
        _ => null,
    };

    /// <summary>Worth a reconnect: the network, a response cut off, a refusal that may pass (429, 5xx). A refusal that
    /// will not (401, 403, 404, 400) ends the stream with its <see cref="GatewayProblemException"/>.</summary>
    private static bool IsTransient(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && e switch
        {
            GatewayProblemException problem => problem.IsTransient,
            HttpRequestException or IOException => true,
            // HttpClient's own timeout, not the caller's cancellation.
            OperationCanceledException => true,
            _ => false,
        };

    /// <summary>The gateway's <c>event: dropped</c>: the stream fell behind; only its cursor matters here.</summary>
    private sealed record DroppedItem(string Cursor) : CallStreamItem(Cursor);
}
