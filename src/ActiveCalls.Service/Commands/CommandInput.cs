using ActiveCalls.Sip.CallControl;

namespace ActiveCalls.Service.Commands;

/// <summary>A command's submitted form, validated and typed: exactly what the engine will be asked to do.</summary>
public abstract record CommandInput
{
    private protected CommandInput() { }
}

/// <param name="CallSetupId">The requester's id, or <see langword="null"/> when the form left it out (one is generated).</param>
public sealed record CreateCallInput(string From, string To, string? CallSetupId) : CommandInput;

public sealed record TerminateCallInput(DialogId Dialog) : CommandInput;

public sealed record TransferCallInput(DialogId Dialog, TransferEndpoint Endpoint, string TargetUri) : CommandInput;

public sealed record CancelCallInput(string CallId, string FromTag) : CommandInput;

/// <summary>The outcome of validating a form: either an input, or the error lines for the "Validation Errors; …" text.</summary>
public sealed record CommandValidation(CommandInput? Input, IReadOnlyList<string> Errors)
{
    public bool IsValid => Input is not null;
}
