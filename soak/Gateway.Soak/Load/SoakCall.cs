namespace Gateway.Soak.Load;

/// <summary>How a call's create ended for the client.</summary>
public enum CreateOutcome
{
    /// <summary>Not answered yet.</summary>
    Pending,
    /// <summary>202: the gateway took the call.</summary>
    Accepted,
    /// <summary>A 4xx the client cannot retry (the gateway refused it).</summary>
    Refused,
    /// <summary>No answer the client could act on before it gave up (every try failed or timed out).</summary>
    GaveUp,
}

/// <summary>One call the driver placed, and what the client was told along the way.</summary>
public sealed class SoakCall(string id, DateTimeOffset startedAt)
{
    public string Id { get; } = id;

    public DateTimeOffset StartedAt { get; } = startedAt;

    public CreateOutcome Create { get; set; }

    /// <summary>Tries of <c>POST /calls</c> (one Idempotency-Key and call-setup-id for all of them).</summary>
    public int CreateTries { get; set; }

    public string? RefusedWith { get; set; }

    /// <summary>When the client first saw the call connected (null: it never did).</summary>
    public DateTimeOffset? ConnectedAt { get; set; }

    /// <summary>When the client first saw the call ended without having asked (e.g. setup failed).</summary>
    public DateTimeOffset? EndedBeforeHangupAt { get; set; }

    /// <summary>When the client first sent <c>DELETE /calls/{id}</c>.</summary>
    public DateTimeOffset? HangupSentAt { get; set; }

    /// <summary>When <c>DELETE /calls/{id}</c> was answered 202 (null: never asked, or never accepted).</summary>
    public DateTimeOffset? HangupAcceptedAt { get; set; }

    public int HangupTries { get; set; }

    /// <summary>When the client, after the load, found its call up although it never got to hang it up (it gave up on
    /// the create, or the call connected only after the client stopped waiting) and hung it up then.</summary>
    public DateTimeOffset? FoundLateAt { get; set; }
}
