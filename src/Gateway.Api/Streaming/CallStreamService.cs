using System.Security.Claims;
using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Streaming;

/// <summary>Why a subscribe was refused.</summary>
public enum CallStreamErrorKind
{
    /// <summary>A bad argument (400 over SSE).</summary>
    Invalid,
    /// <summary>Outside the API key's addresses (403).</summary>
    Forbidden,
    /// <summary>No such call (404).</summary>
    NotFound,
    /// <summary>The connection holds too many subscriptions or too many unsent messages (SignalR only).</summary>
    Busy,
}

/// <summary>A refused subscribe: the hub turns it into a <c>HubException</c> with <see cref="Exception.Message"/>, the SSE
/// endpoint into problem+json.</summary>
public sealed class CallStreamException(CallStreamErrorKind kind, string message, string? field = null) : Exception(message)
{
    public CallStreamErrorKind Kind { get; } = kind;

    /// <summary>The request member at fault (<see cref="CallStreamErrorKind.Invalid"/>).</summary>
    public string? Field { get; } = field;
}

/// <summary>
/// Subscriptions to the call stream, for the SignalR hub and the SSE endpoint alike: validates the request, applies the
/// API key's scope, and starts the subscription with a snapshot taken atomically with the log's head, or with the events
/// after a cursor (a snapshot flagged <c>reset</c> when they cannot be replayed).
/// </summary>
public sealed class CallStreamService(
    CallTracker calls, CallEventLog log, IOptions<StreamingOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
    CallStreamMetrics metrics, ILoggerFactory loggerFactory, TimeProvider time)
{
    private readonly StreamingOptions _options = options.Value;
    private readonly ILogger _logger = loggerFactory.CreateLogger<CallStreamService>();
    private readonly ILogger _connectionLogger = loggerFactory.CreateLogger<CallStreamConnection>();

    /// <summary>The REST API's JSON settings plus <see cref="CallEventMessageConverter"/>: what SSE data lines are written with.</summary>
    public JsonSerializerOptions SseJson { get; } = new(json.Value.SerializerOptions) { Converters = { new CallEventMessageConverter() } };

    /// <summary>A new client connection; dispose it when the client goes.</summary>
    public CallStreamConnection Open(string id, string transport, ClaimsPrincipal user, int? maxSubscriptions = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new CallStreamConnection(id, transport, user.KeyName(), user.Scope(), _options.ConnectionBuffer,
            maxSubscriptions ?? _options.MaxSubscriptionsPerConnection, log, metrics, _connectionLogger, time);
    }

    /// <summary>Starts a subscription; its first messages are in the connection's buffer when this returns.</summary>
    /// <exception cref="CallStreamException">the request is refused.</exception>
    public async Task<CallStreamSubscription> SubscribeAsync(CallStreamConnection connection, CallStreamSubscribeRequest? request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var (filter, after) = await CreateFilterAsync(connection.KeyScope, request ?? new CallStreamSubscribeRequest(), cancellationToken);
        if (connection.IsFull)
            throw new CallStreamException(CallStreamErrorKind.Busy,
                $"The connection has {connection.Buffered} messages waiting to be sent; read them before subscribing again.");

        var subscription = connection.NewSubscription(filter, after?.Position ?? 0);
        if (!connection.TryAdd(subscription))
            throw new CallStreamException(CallStreamErrorKind.Busy,
                $"A connection may hold at most {connection.MaxSubscriptions} subscriptions; unsubscribe from one first.");
        try
        {
            var reset = after is not null;
            if (after is { } cursor && cursor.Epoch == log.Epoch)
            {
                // A cursor another replica handed out may be a moment ahead of this replica's copy of the shared log.
                await calls.CatchUpAsync(cursor.Position, cancellationToken);
                switch (log.Attach(subscription, cursor.Position))
                {
                    case AttachOutcome.Attached:
                        _logger.LogDebug("Call stream {Connection}: subscription {Subscription} ({Scope}) resumes after {Cursor}",
                            connection.Id, subscription.Id, filter.Scope, cursor);
                        return new CallStreamSubscription(subscription.Id, cursor.ToString());
                    case AttachOutcome.AheadOfLog:
                        throw new CallStreamException(CallStreamErrorKind.Invalid,
                            $"The cursor '{cursor}' is ahead of this gateway's event log (its last event is {log.Head}).", "afterCursor");
                }
            }

            var head = await calls.SnapshotAsync(filter.Matches, filter.Scope == CallStreamScope.Call ? filter.CallId : null, (snapshot, position) =>
            {
                var at = new StreamCursor(log.Epoch, position);
                subscription.StartWith(new CallSnapshotMessage(subscription.Id, at.ToString(), reset, snapshot), at.Position);
                // The events published since the snapshot are in the log's window (it holds ReplayWindow of them), so the
                // reader gets them as its backlog; anything else is a defect, not a client's problem.
                if (log.Attach(subscription, at.Position) is not AttachOutcome.Attached and var outcome)
                    throw new InvalidOperationException($"The stream log refused a snapshot's own position {at} ({outcome}).");
                return at;
            }, cancellationToken);
            _logger.LogDebug("Call stream {Connection}: subscription {Subscription} ({Scope}) starts with a snapshot at {Cursor}{Reset}",
                connection.Id, subscription.Id, filter.Scope, head, reset ? $" (could not resume after {after})" : "");
            return new CallStreamSubscription(subscription.Id, head.ToString());
        }
        catch
        {
            connection.Remove(subscription.Id);
            throw;
        }
    }

    /// <summary>Works out the filter and the resume cursor, or refuses.</summary>
    private async Task<(CallStreamFilter Filter, StreamCursor? After)> CreateFilterAsync(AddressScope key, CallStreamSubscribeRequest request, CancellationToken cancellationToken)
    {
        StreamCursor? after = null;
        if (request.AfterCursor is { } text)
        {
            if (!StreamCursor.TryParse(text, out var cursor))
                throw new CallStreamException(CallStreamErrorKind.Invalid,
                    $"'{Truncate(text)}' is not a cursor: use the 'cursor' of a message this gateway sent ('{{epoch}}-{{position}}').", "afterCursor");
            after = cursor;
        }

        switch (request.Scope ?? "all")
        {
            case "all":
                RefuseMember(request.Address, "address", "all");
                RefuseMember(request.CallId, "callId", "all");
                return (new CallStreamFilter(CallStreamScope.All, null, null, key), after);

            case "address":
            {
                RefuseMember(request.CallId, "callId", "address");
                if (string.IsNullOrWhiteSpace(request.Address))
                    throw new CallStreamException(CallStreamErrorKind.Invalid, "address is required with scope 'address' (user@domain or sip:user@domain).", "address");
                // The same reading of an address as GET /calls?address=.
                if (SipUri.AddressOf(request.Address) is not { } address)
                    throw new CallStreamException(CallStreamErrorKind.Invalid, $"address '{Truncate(request.Address)}' is not a SIP address (user@domain or sip:user@domain).", "address");
                if (!key.Allows(address)) throw new CallStreamException(CallStreamErrorKind.Forbidden, "forbidden");
                return (new CallStreamFilter(CallStreamScope.Address, address, null, key), after);
            }

            case "call":
            {
                RefuseMember(request.Address, "address", "call");
                if (string.IsNullOrWhiteSpace(request.CallId))
                    throw new CallStreamException(CallStreamErrorKind.Invalid, "callId is required with scope 'call' (the call's id or a SIP Call-ID of one of its legs).", "callId");
                var id = request.CallId.Trim();
                if (await calls.FindAsync(id, cancellationToken) is { } found)
                {
                    if (!key.AllowsAny(CallAddresses.Of(found.ToResource()))) throw new CallStreamException(CallStreamErrorKind.Forbidden, "forbidden");
                    return (new CallStreamFilter(CallStreamScope.Call, null, found.Id, key), after);
                }
                // A resume may outlive the call's retention: its events are still filtered by the key's scope one by one.
                if (after is not null) return (new CallStreamFilter(CallStreamScope.Call, null, id, key), after);
                throw new CallStreamException(CallStreamErrorKind.NotFound,
                    $"No call with id or SIP Call-ID '{Truncate(id)}' is known (ended calls are kept for Gateway:Calls:EndedRetention).", "callId");
            }

            default:
                throw new CallStreamException(CallStreamErrorKind.Invalid, $"scope must be 'all', 'address' or 'call', not '{Truncate(request.Scope)}'.", "scope");
        }
    }

    private static void RefuseMember(string? value, string member, string scope)
    {
        if (value is not null)
            throw new CallStreamException(CallStreamErrorKind.Invalid, $"{member} does not go with scope '{scope}'.", member);
    }

    private static string Truncate(string? text) => text is { Length: > 64 } ? text[..64] + "…" : text ?? "";
}
