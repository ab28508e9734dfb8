namespace Gateway.Client;

/// <summary>Where the gateway is, the API key, and how the call stream reconnects.</summary>
public sealed class GatewayClientOptions
{
    /// <summary>The gateway's address, e.g. <c>http://localhost:8080/</c>.</summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>The API key, sent as <c>X-Api-Key</c> (and as the SignalR access token).</summary>
    public required string ApiKey { get; init; }

    /// <summary>The first wait before reconnecting a call stream after a failure; the gateway's <c>retry:</c> replaces it.
    /// Each further failure in a row doubles it, up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between reconnection attempts.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The innermost HTTP handler (for a proxy, certificates or tests); the client does not dispose it.</summary>
    public HttpMessageHandler? HttpMessageHandler { get; init; }
}
