namespace ActiveCalls.Sip.CallControl;

/// <summary>Which party of a call a transfer moves (the seed's <c>endpoint</c> field).</summary>
public enum TransferEndpoint { Caller, Callee }

/// <summary>A request to connect <see cref="From"/> and <see cref="To"/> (third-party call control).</summary>
/// <param name="From">The SIP URI called first, e.g. <c>sip:alice@example.com</c>.</param>
/// <param name="To">The SIP URI the answered caller is connected to (a SIP address or <c>digits@domain</c>).</param>
/// <param name="CallSetupId">Eight alphanumerics carried on every leg of this setup.</param>
/// <param name="Requester">Who asked, for logs (an XMPP address).</param>
public sealed record CallSetup(string From, string To, string CallSetupId, string? Requester);

/// <summary>Identifies one SIP dialog as the Active-Calls items publish it.</summary>
public sealed record DialogId(string CallId, string FromTag, string ToTag);

/// <summary>
/// What the command component asks of the calls. Every method returns once the request is accepted and under way;
/// how the call really progresses is reported to the <see cref="ICallLegObserver"/>, as the seed describes.
/// </summary>
public interface ICallControlEngine
{
    /// <exception cref="CallControlException">the call cannot be attempted (e.g. no route to the destination).</exception>
    Task CreateAsync(CallSetup setup, CancellationToken cancellationToken);

    /// <summary>Tears down an answered call.</summary>
    /// <exception cref="CallControlException">no such call.</exception>
    Task TerminateAsync(DialogId dialog, CancellationToken cancellationToken);

    /// <summary>Cancels a call that has not been answered yet.</summary>
    /// <exception cref="CallControlException">no such unanswered call.</exception>
    Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken);

    /// <summary>Connects <paramref name="endpoint"/> of the call to <paramref name="targetUri"/> and hangs up the other party.</summary>
    /// <exception cref="CallControlException">no such call, or the transfer cannot be attempted.</exception>
    Task TransferAsync(DialogId dialog, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken);
}

/// <summary>An execution failure, reported to the XMPP client as <c>Execution Errors; {Message}</c>.</summary>
public sealed class CallControlException(string message) : Exception(message);
