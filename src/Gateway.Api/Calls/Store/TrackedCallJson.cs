using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Api.Calls.State;
using Gateway.Xmpp.ActiveCalls;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// The JSON a durable store keeps for calls, events and intents. A call goes through DTOs that name every stored field,
/// so the stored shape changes only on purpose (and a field added to <see cref="TrackedCall"/> is a compile-time
/// decision here). A leg's PubSub item is kept as its raw <c>dialog-state</c> text (which gives back both
/// <see cref="ActiveCallItem.DialogState"/> and <see cref="ActiveCallItem.DialogStateText"/>, unknown words included)
/// and its already-normalised fields. Times keep their offsets and ticks.
/// </summary>
public static class TrackedCallJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize(TrackedCall call) => JsonSerializer.Serialize(CallDto.Of(call), Options);

    public static TrackedCall DeserializeCall(string json) =>
        (JsonSerializer.Deserialize<CallDto>(json, Options) ?? throw new JsonException("A stored call is null.")).ToCall();

    public static string Serialize(CallEvent e) => JsonSerializer.Serialize(e, Options);

    public static CallEvent DeserializeEvent(string json) =>
        JsonSerializer.Deserialize<CallEvent>(json, Options) ?? throw new JsonException("A stored event is null.");

    public static string Serialize(CommandIntent intent) => JsonSerializer.Serialize(intent, Options);

    public static CommandIntent DeserializeIntent(string json) =>
        JsonSerializer.Deserialize<CommandIntent>(json, Options) ?? throw new JsonException("A stored intent is null.");

    private sealed record CallDto(
        string Id, string? CallSetupId, string? From, string? To, string? Owner, bool RequestedByApi, bool CreateInFlight, bool Visible,
        DateTimeOffset? HoldUntil, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, CallState State, CallEndReason? EndReason,
        DateTimeOffset? EndedAt, DateTimeOffset? LastRetractAt, DateTimeOffset? GraceUntil, CallEndReason? Hangup,
        IReadOnlyList<LegDto>? Legs, IReadOnlyList<PendingEvent>? Held, long LastSequence, bool HangupPending = false,
        DateTimeOffset? OutcomeUnknownSince = null, int OutcomeUnknownMisses = 0, CallStatusCallback? StatusCallback = null,
        string? TraceParent = null)
    {
        public static CallDto Of(TrackedCall c) => new(
            c.Id, c.CallSetupId, c.From, c.To, c.Owner, c.RequestedByApi, c.CreateInFlight, c.Visible, c.HoldUntil, c.CreatedAt, c.UpdatedAt,
            c.State, c.EndReason, c.EndedAt, c.LastRetractAt, c.GraceUntil, c.Hangup, [.. c.Legs.Select(LegDto.Of)], [.. c.Held], c.LastSequence,
            c.HangupPending, c.OutcomeUnknownSince, c.OutcomeUnknownMisses, c.StatusCallback, c.TraceParent);

        public TrackedCall ToCall() => new()
        {
            Id = Id,
            CallSetupId = CallSetupId,
            From = From,
            To = To,
            Owner = Owner,
            StatusCallback = StatusCallback,
            RequestedByApi = RequestedByApi,
            CreateInFlight = CreateInFlight,
            Visible = Visible,
            HoldUntil = HoldUntil,
            OutcomeUnknownSince = OutcomeUnknownSince,
            OutcomeUnknownMisses = OutcomeUnknownMisses,
            CreatedAt = CreatedAt,
            UpdatedAt = UpdatedAt,
            State = State,
            EndReason = EndReason,
            EndedAt = EndedAt,
            LastRetractAt = LastRetractAt,
            GraceUntil = GraceUntil,
            Hangup = Hangup,
            HangupPending = HangupPending,
            Legs = Legs is null ? [] : [.. Legs.Select(l => l.ToLeg())],
            Held = Held is null ? [] : [.. Held],
            LastSequence = LastSequence,
            TraceParent = TraceParent,
        };
    }

    private sealed record LegDto(
        string ItemId, string Node, LegRole Role, DateTimeOffset FirstSeenAt, DateTimeOffset LastSeenAt, bool Retracted, DateTimeOffset? EndedAt,
        string? DialogState, string? ToAor, string? CallId, string? FromUri, string? ToUri, string? FromTag, string? ToTag, string? Branch,
        string? CallSetupId, string? FromDisplay, string? ToDisplay, DateTimeOffset? PublishTime)
    {
        public static LegDto Of(TrackedLeg l)
        {
            var i = l.Item;
            return new(l.ItemId, l.Node, l.Role, l.FirstSeenAt, l.LastSeenAt, l.Retracted, l.EndedAt,
                i.DialogStateText, i.ToAor, i.CallId, i.FromUri, i.ToUri, i.FromTag, i.ToTag, i.Branch, i.CallSetupId, i.FromDisplay, i.ToDisplay, i.PublishTime);
        }

        public TrackedLeg ToLeg() => new()
        {
            ItemId = ItemId,
            Node = Node,
            Role = Role,
            FirstSeenAt = FirstSeenAt,
            LastSeenAt = LastSeenAt,
            Retracted = Retracted,
            EndedAt = EndedAt,
            Item = new ActiveCallItem
            {
                DialogStateText = DialogState,
                ToAor = ToAor,
                CallId = CallId,
                FromUri = FromUri,
                ToUri = ToUri,
                FromTag = FromTag,
                ToTag = ToTag,
                Branch = Branch,
                CallSetupId = CallSetupId,
                FromDisplay = FromDisplay,
                ToDisplay = ToDisplay,
                PublishTime = PublishTime,
            },
        };
    }
}

