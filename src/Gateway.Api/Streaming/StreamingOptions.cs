using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Streaming;

/// <summary><c>Gateway:Streaming</c>: the call-events stream behind the SignalR hub <c>/hubs/calls</c> and
/// <c>GET /calls/stream</c> (server-sent events).</summary>
public sealed class StreamingOptions
{
    public const string SectionName = "Gateway:Streaming";

    /// <summary>How many of the latest events are kept for replay after a cursor. A cursor older than this window gets a
    /// fresh snapshot (<c>reset: true</c>) instead.</summary>
    [Range(16, 10_000_000, ErrorMessage = "Gateway:Streaming:ReplayWindow must be between 16 and 10000000 events.")]
    public int ReplayWindow { get; set; } = 10_000;

    /// <summary>Messages one client connection may have waiting to be sent. When a client reads slower than events arrive
    /// and its buffer is full, the subscription that did not fit is ended with <c>EventsDropped</c> (the client resumes
    /// from the cursor it carries); the other clients and the tracker never wait for it.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Gateway:Streaming:ConnectionBuffer must be between 1 and 1000000 messages.")]
    public int ConnectionBuffer { get; set; } = 1024;

    /// <summary>Subscriptions one SignalR connection may hold at once.</summary>
    [Range(1, 1_000, ErrorMessage = "Gateway:Streaming:MaxSubscriptionsPerConnection must be between 1 and 1000.")]
    public int MaxSubscriptionsPerConnection { get; set; } = 16;

    /// <summary>How long a server-sent-events stream may stay silent before a heartbeat comment is written (keeps proxies
    /// from closing it and lets the server notice a client that went away).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> hint of server-sent events: how long an EventSource waits before it reconnects.</summary>
    public TimeSpan SseRetry { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bytes of unacknowledged messages SignalR keeps per connection for a stateful reconnect; a client that
    /// reconnects within the window gets them again, and sending waits while the buffer is full.</summary>
    [Range(16 * 1024, 64 * 1024 * 1024, ErrorMessage = "Gateway:Streaming:StatefulReconnectBufferBytes must be between 16 KiB and 64 MiB.")]
    public long StatefulReconnectBufferBytes { get; set; } = 256 * 1024;
}

internal sealed class StreamingOptionsValidator : IValidateOptions<StreamingOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamingOptions options)
    {
        var failures = new List<string>();
        if (options.HeartbeatInterval < TimeSpan.FromSeconds(1) || options.HeartbeatInterval > TimeSpan.FromMinutes(5))
            failures.Add("Gateway:Streaming:HeartbeatInterval must be between 1 second and 5 minutes.");
        if (options.SseRetry < TimeSpan.FromMilliseconds(100) || options.SseRetry > TimeSpan.FromMinutes(10))
            failures.Add("Gateway:Streaming:SseRetry must be between 0.1 seconds and 10 minutes.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
