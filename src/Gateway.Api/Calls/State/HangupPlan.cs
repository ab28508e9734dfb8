namespace Gateway.Api.Calls.State;

/// <summary>One hang-up command: <c>terminate(call-id, from-tag, to-tag)</c> when <see cref="ToTag"/> is set, else <c>cancel(call-id, from-tag)</c>.</summary>
public sealed record HangupCommand(string CallId, string FromTag, string? ToTag)
{
    public bool IsTerminate => ToTag is not null;
}

/// <summary>The dialog a transfer addresses.</summary>
public sealed record TransferDialog(string CallId, string FromTag, string ToTag);
