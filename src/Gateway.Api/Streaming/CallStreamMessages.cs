using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Api.Calls;

namespace Gateway.Api.Streaming;

/// <summary>One call event for one subscription (SignalR <c>CallEvent</c>, SSE <c>event: call</c>).</summary>
public sealed record CallEventMessage(
    [property: Description("The subscription the event is for.")] string SubscriptionId,
    [property: Description("Where the event sits in the gateway's event log; resume after it with afterCursor / Last-Event-ID.")] string Cursor,
    [property: Description("The event, exactly as GET /calls/{id}/events lists it.")] CallEvent Event)
{
    /// <summary>The logged event it carries, whose JSON <see cref="CallEventMessageConverter"/> reuses.</summary>
    [JsonIgnore]
    internal LoggedEvent? Logged { get; init; }
}

/// <summary>
/// Writes <see cref="CallEventMessage"/>s with the event's JSON serialized once (<see cref="LoggedEvent.Utf8Json"/>): one
/// notification going to a thousand subscriptions is serialized once, not a thousand times. Used by the SignalR protocol
/// and the SSE writer; the output is what the default serializer writes.
/// </summary>
public sealed class CallEventMessageConverter : JsonConverter<CallEventMessage>
{
    public override CallEventMessage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Call event messages are only ever sent by the gateway.");

    public override void Write(Utf8JsonWriter writer, CallEventMessage value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        writer.WriteStartObject();
        writer.WriteString(Name(nameof(CallEventMessage.SubscriptionId), options), value.SubscriptionId);
        writer.WriteString(Name(nameof(CallEventMessage.Cursor), options), value.Cursor);
        writer.WritePropertyName(Name(nameof(CallEventMessage.Event), options));
        if (value.Logged is { } logged && ReferenceEquals(logged.Event, value.Event)) writer.WriteRawValue(logged.Utf8Json(options), skipInputValidation: true);
        else JsonSerializer.Serialize(writer, value.Event, options);
        writer.WriteEndObject();
    }

    private static string Name(string property, JsonSerializerOptions options) => options.PropertyNamingPolicy?.ConvertName(property) ?? property;
}

/// <summary>The calls a subscription sees as of <see cref="Cursor"/> (SignalR <c>CallSnapshot</c>, SSE <c>event: snapshot</c>).</summary>
public sealed record CallSnapshotMessage(
    [property: Description("The subscription the snapshot is for.")] string SubscriptionId,
    [property: Description("The log position the snapshot is taken at; the subscription's events follow it.")] string Cursor,
    [property: Description("True when a resume could not be served (the cursor is from an earlier gateway process or older than the replay window): replace what you hold with these calls.")] bool Reset,
    [property: Description("Active calls the subscription sees (for a call subscription: that call, also when it has ended), oldest first.")] IReadOnlyList<CallResource> Calls);

/// <summary>The connection's buffer overflowed and the subscription ended (SignalR <c>EventsDropped</c>, SSE <c>event: dropped</c>,
/// after which the server ends the response).</summary>
public sealed record EventsDroppedMessage(
    [property: Description("The subscription that ended.")] string SubscriptionId,
    [property: Description("Events of the subscription that were not sent.")] long Dropped,
    [property: Description("The cursor of the last event sent before the gap: subscribe again with afterCursor / Last-Event-ID set to it.")] string Cursor);

/// <summary>What a client subscribes to: <c>all</c> it may see, one <c>address</c>, or one <c>call</c>.</summary>
public sealed record CallStreamSubscribeRequest
{
    [Description("all, address or call.")]
    public string? Scope { get; init; }

    [Description("With scope address: the SIP address (user@domain or sip:user@domain).")]
    public string? Address { get; init; }

    [Description("With scope call: the call's id or the SIP Call-ID of one of its legs.")]
    public string? CallId { get; init; }

    [Description("Resume: send the events after this cursor instead of a snapshot.")]
    public string? AfterCursor { get; init; }
}

/// <summary>The answer to a subscribe.</summary>
public sealed record CallStreamSubscription(
    [property: Description("Names the subscription in every message and in Unsubscribe.")] string SubscriptionId,
    [property: Description("Where the subscription starts: its snapshot's cursor, or the cursor it resumes after.")] string Cursor);

/// <summary>The SignalR client's methods (strongly typed hub).</summary>
public interface ICallsClient
{
    Task CallEvent(CallEventMessage message);

    Task CallSnapshot(CallSnapshotMessage message);

    Task EventsDropped(EventsDroppedMessage message);
}
