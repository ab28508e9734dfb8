namespace Gateway.Client;

/// <summary>
/// The Active-Calls Gateway: <see cref="Api"/> is the REST API generated from the gateway's <c>openapi.yaml</c>; the call
/// stream comes as an endless <see cref="IAsyncEnumerable{T}"/> over server-sent events (<see cref="StreamCallsAsync"/>)
/// or SignalR (<see cref="SubscribeAsync"/>), reconnecting and resuming by itself until cancelled. Every refusal is a
/// <see cref="GatewayProblemException"/>.
/// </summary>
public sealed class GatewayClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly GatewayClientOptions _options;

    /// <summary>A client of the gateway at <paramref name="baseAddress"/> with the API key <paramref name="apiKey"/>.</summary>
    public GatewayClient(Uri baseAddress, string apiKey)
        : this(new GatewayClientOptions { BaseAddress = baseAddress, ApiKey = apiKey })
    {
    }

    /// <summary>A client with every option.</summary>
    public GatewayClient(GatewayClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Relative operation paths resolve under the base address only when it ends with a slash.
        var baseAddress = options.BaseAddress.AbsoluteUri.EndsWith('/') ? options.BaseAddress : new Uri(options.BaseAddress.AbsoluteUri + "/");
        _options = new GatewayClientOptions
        {
            BaseAddress = baseAddress, ApiKey = options.ApiKey, ReconnectDelay = options.ReconnectDelay,
            MaxReconnectDelay = options.MaxReconnectDelay, HttpMessageHandler = options.HttpMessageHandler,
        };
        var inner = options.HttpMessageHandler ?? new SocketsHttpHandler();
        var handlers = new ApiKeyHandler(options.ApiKey) { InnerHandler = new ProblemResponseHandler { InnerHandler = inner } };
        // A handler passed in stays the caller's; HttpClient disposes the chain only when the client made it.
        _http = new HttpClient(handlers, disposeHandler: options.HttpMessageHandler is null) { BaseAddress = baseAddress };
        Api = new GatewayApiClient(_http);
    }

    /// <summary>The REST API: calls, webhooks, followed users.</summary>
    public IGatewayApiClient Api { get; }

    /// <summary>
    /// Places a call (<c>POST /calls</c>) with an <c>Idempotency-Key</c>: pass the same key when retrying after a failure
    /// and the gateway answers with the first attempt's call instead of placing another. Without one a new key is made.
    /// </summary>
    public Task<CallResource> PlaceCallAsync(CreateCallRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        Api.CreateCallAsync(request, idempotencyKey ?? Guid.NewGuid().ToString("N"), cancellationToken);

    /// <summary>Follows calls over server-sent events (<c>GET /calls/stream</c>), reconnecting with <c>Last-Event-ID</c>.</summary>
    public IAsyncEnumerable<CallStreamItem> StreamCallsAsync(CallStreamScope scope, CancellationToken cancellationToken = default) =>
        new ServerSentEventsCallStream(_http, _options).ReadAsync(scope, cancellationToken);

    /// <summary>Follows calls over SignalR (<c>/hubs/calls</c>), subscribing again after the last cursor when needed.</summary>
    public IAsyncEnumerable<CallStreamItem> SubscribeAsync(CallStreamScope scope, CancellationToken cancellationToken = default) =>
        new SignalRCallStream(_options).ReadAsync(scope, cancellationToken);

    /// <summary>Closes the HTTP connections (streams being read end).</summary>
    public void Dispose() => _http.Dispose();
}
