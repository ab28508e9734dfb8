using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Soak.Streams;

/// <summary>
/// A server-sent-events client of <c>GET /calls/stream</c> as a browser's EventSource behaves: it reads until the
/// stream breaks (the gateway died, froze past the read timeout, or ended a stream that fell behind), then reconnects
/// with <c>Last-Event-ID</c> set to the last id it saw, for as long as the run lasts.
/// </summary>
public sealed class SseObserver(Uri gateway, string apiKey) : IAsyncDisposable
{
    // No event for this long while the gateway heartbeats every few seconds: the connection is dead (a frozen gateway).
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

    public StreamLedger Ledger { get; } = new("sse");

    public void Start() => _running = Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ReadOnceAsync(http, cancellationToken);
            }
            catch (Exception)
            {
                // EventSource's behaviour: any failure, a reconnect after a short wait (or the end of the run).
                if (cancellationToken.IsCancellationRequested) return;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReadOnceAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway, "calls/stream"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (Ledger.Cursor is { } cursor) request.Headers.Add("Last-Event-ID", cursor);
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connect.CancelAfter(ReadTimeout);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, connect.Token);
        response.EnsureSuccessStatusCode();
        var resumedAfter = Ledger.Cursor;
        var subscribed = false;
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body, Encoding.UTF8);
        string? type = null;
        var data = new StringBuilder();
        while (true)
        {
            using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            read.CancelAfter(ReadTimeout);
            var line = await reader.ReadLineAsync(read.Token);
            if (line is null) return;
            if (line.Length == 0)
            {
                if (type is not null && data.Length > 0)
                {
                    var message = JsonNode.Parse(data.ToString())!.AsObject();
                    // An SSE response is one subscription; its id comes with its first message.
                    if (!subscribed && (string?)message["subscriptionId"] is { } id)
                    {
                        Ledger.Subscribed(id, type == "snapshot" ? null : resumedAfter);
                        subscribed = true;
                    }
                    Dispatch(type, message);
                }
                type = null;
                data.Clear();
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data.Append(line["data: ".Length..]);
        }
    }

    private void Dispatch(string type, JsonObject message)
    {
        switch (type)
        {
            case "snapshot": Ledger.Snapshot(message); break;
            case "call": Ledger.Event(message); break;
            case "dropped": Ledger.Dropped(message); break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null) await _running;
        _stop.Dispose();
    }
}
