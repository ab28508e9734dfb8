using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>A message a stream client received: its kind (<c>snapshot</c>, <c>call</c>, <c>dropped</c>) and JSON body.</summary>
public sealed record StreamMessage(string Kind, JsonObject Body)
{
    public string Cursor => (string)Body["cursor"]!;

    public string SubscriptionId => (string)Body["subscriptionId"]!;

    /// <summary>For <c>call</c> messages: the event's type.</summary>
    public string? EventType => (string?)Body["event"]?["type"];

    /// <summary>For <c>call</c> messages: the event's id (<c>{callId}.{sequence}</c>).</summary>
    public string? EventId => (string?)Body["event"]?["id"];

    public string? CallId => (string?)Body["event"]?["call"]?["id"];

    /// <summary>For <c>snapshot</c> messages: the ids of its calls.</summary>
    public IReadOnlyList<string> SnapshotCallIds => [.. Body["calls"]!.AsArray().Select(c => (string)c!["id"]!)];

    public override string ToString() => Kind == "call" ? $"call {EventId} {EventType} @{Cursor}" : $"{Kind} @{Cursor} {Body.ToJsonString()}";
}

/// <summary>What a stream client received, in order, with waits on conditions (generous timeouts, never timed assertions).</summary>
public abstract class StreamRecorder
{
    private readonly Lock _gate = new();
    private readonly List<StreamMessage> _messages = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<StreamMessage> Messages
    {
        get { lock (_gate) return [.. _messages]; }
    }

    /// <summary>Only the call events, as <c>{eventId} {type}</c>.</summary>
    public IReadOnlyList<string> Events(string? callId = null) =>
        [.. Messages.Where(m => m.Kind == "call" && (callId is null || m.CallId == callId)).Select(m => $"{m.EventId} {m.EventType}")];

    protected void Record(StreamMessage message)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _messages.Add(message);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the messages received so far.</summary>
    public async Task<IReadOnlyList<StreamMessage>> WaitForAsync(Func<IReadOnlyList<StreamMessage>, bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            Task changed;
            IReadOnlyList<StreamMessage> messages;
            lock (_gate)
            {
                messages = [.. _messages];
                changed = _changed.Task;
            }
            if (condition(messages)) return messages;
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, $"timed out waiting for {what}; received: {string.Join(" | ", messages)}");
            try { await changed.WaitAsync(left, TestContext.Current.CancellationToken); }
            catch (TimeoutException) { }
        }
    }

    public Task<IReadOnlyList<StreamMessage>> WaitForEventAsync(string callId, string type, int seconds = 30) =>
        WaitForAsync(m => m.Any(x => x.Kind == "call" && x.CallId == callId && x.EventType == type), $"{type} of {callId}", seconds);
}

/// <summary>A real SignalR .NET client of <c>/hubs/calls</c> that records every message.</summary>
public sealed class SignalRStreamClient : StreamRecorder, IAsyncDisposable
{
    private SignalRStreamClient(HubConnection connection)
    {
        Connection = connection;
        connection.On<JsonObject>("CallEvent", m => Record(new StreamMessage("call", m)));
        connection.On<JsonObject>("CallSnapshot", m => Record(new StreamMessage("snapshot", m)));
        connection.On<JsonObject>("EventsDropped", m => Record(new StreamMessage("dropped", m)));
    }

    public HubConnection Connection { get; }

    /// <summary>Over the in-memory test server (WebSockets through <see cref="TestServer"/>), the key as a bearer token.</summary>
    public static async Task<SignalRStreamClient> ConnectAsync(GatewayFactory gateway, string key = GatewayFactory.AdminKey)
    {
        var server = gateway.Server;
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress, "hubs/calls"), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.HttpMessageHandlerFactory = _ => server.CreateHandler();
                o.AccessTokenProvider = () => Task.FromResult<string?>(key);
                o.WebSocketFactory = async (context, ct) =>
                {
                    var client = server.CreateWebSocketClient();
                    client.ConfigureRequest = request => request.Headers.Authorization = "Bearer " + key;
                    return await client.ConnectAsync(context.Uri, ct);
                };
            })
            .WithStatefulReconnect()
            .Build();
        var client = new SignalRStreamClient(connection);
        await connection.StartAsync(TestContext.Current.CancellationToken);
        return client;
    }

    /// <summary>Over real WebSockets to a Kestrel base address, the key in <c>?access_token=</c> as browsers send it.</summary>
    public static async Task<SignalRStreamClient> ConnectAsync(Uri baseAddress, string key)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(baseAddress, "hubs/calls?access_token=" + Uri.EscapeDataString(key)), HttpTransportType.WebSockets)
            .WithStatefulReconnect()
            .Build();
        var client = new SignalRStreamClient(connection);
        await connection.StartAsync(TestContext.Current.CancellationToken);
        return client;
    }

    public async Task<JsonObject> SubscribeAsync(object request) =>
        await Connection.InvokeAsync<JsonObject>("Subscribe", request, TestContext.Current.CancellationToken);

    public Task UnsubscribeAsync(string subscriptionId) =>
        Connection.InvokeAsync("Unsubscribe", subscriptionId, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

/// <summary>A server-sent-events client of <c>GET /calls/stream</c> that parses and records every message.</summary>
public sealed class SseStreamClient : StreamRecorder, IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<string> _comments = [];
    private Task? _reading;
    private int _disposed;

    private SseStreamClient(HttpResponseMessage response) => Response = response;

    public HttpResponseMessage Response { get; }

    /// <summary>The <c>retry:</c> hint, once read.</summary>
    public int? Retry { get; private set; }

    /// <summary>The stream ended (the server closed it).</summary>
    public bool Ended => _reading?.IsCompleted == true;

    public IReadOnlyList<string> Comments
    {
        get { lock (_gate) return [.. _comments]; }
    }

    /// <summary>Opens the stream (only headers are awaited); a non-2xx answer is returned as is, without reading.</summary>
    public static async Task<SseStreamClient> OpenAsync(HttpClient client, string pathAndQuery, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        var sse = new SseStreamClient(response);
        if (response.IsSuccessStatusCode) sse._reading = sse.ReadAsync();
        return sse;
    }

    public async Task WhenEndedAsync(int seconds = 30)
    {
        Assert.NotNull(_reading);
        await _reading.WaitAsync(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);
    }

    private async Task ReadAsync()
    {
        try
        {
            using var reader = new StreamReader(await Response.Content.ReadAsStreamAsync(_stop.Token), Encoding.UTF8);
            string? kind = null;
            var data = new StringBuilder();
            string? id = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        var body = JsonNode.Parse(data.ToString())!.AsObject();
                        // The id line must be the message's cursor (EventSource resumes from it).
                        Assert.Equal(id, (string?)body["cursor"]);
                        Record(new StreamMessage(kind ?? "message", body));
                    }
                    kind = id = null;
                    data.Clear();
                }
                else if (line.StartsWith(':'))
                {
                    lock (_gate) _comments.Add(line[1..].Trim());
                }
                else
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    var field = colon < 0 ? line : line[..colon];
                    var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
                    switch (field)
                    {
                        case "event": kind = value; break;
                        case "id": id = value; break;
                        case "data": data.Append(value); break;
                        case "retry": Retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    }
                }
            }
        }
        catch (Exception e) when (_stop.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync();
        Response.Dispose();
        if (_reading is not null)
        {
            try { await _reading; }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException) { }
        }
        _stop.Dispose();
    }
}

public static class StreamTestExtensions
{
    public static T Service<T>(this GatewayFactory gateway) where T : notnull => gateway.Services.GetRequiredService<T>();
}
