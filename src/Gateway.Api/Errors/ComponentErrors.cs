using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;

namespace Gateway.Api.Errors;

/// <summary>How a stanza error from the component (or from the server on its behalf) maps to a problem.</summary>
public static class ComponentErrors
{
    /// <summary>Prosody's application condition for an external component that is configured but not connected.</summary>
    public const string ProsodyComponentNamespace = "xmpp:prosody.im/protocol/component";

    /// <summary>ejabberd's text when no component is connected for an address under its own domain: with nothing routed
    /// there it would need server-to-server federation, which it refuses as <c>auth/forbidden</c> with this text (it
    /// names no application condition).</summary>
    public const string EjabberdNoRouteText = "Access denied by service policy";

    /// <summary>The component is not there to execute anything: safe to retry later. Feeds the circuit breaker.</summary>
    public static bool IsUnavailable(StanzaError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.ApplicationCondition is { } app && app.NamespaceName == ProsodyComponentNamespace) return true;
        if (error.Condition == "forbidden" && error.Text == EjabberdNoRouteText) return true;
        return error.Condition is "remote-server-timeout" or "remote-server-not-found" or "service-unavailable"
            or "recipient-unavailable" or "resource-constraint";
    }

    /// <summary>A command failure that may pass without anything changing on our side: the server or the component not
    /// reachable or not answering, the breaker open, a rate limit. A command intent retries these.</summary>
    public static bool IsTransient(Exception? error) => error switch
    {
        XmppIqTimeoutException or XmppConnectionLostException or Polly.CircuitBreaker.BrokenCircuitException => true,
        XmppStanzaErrorException stanza => IsUnavailable(stanza.Error) || stanza.Error.Type == StanzaErrorType.Wait,
        _ => false,
    };

    public static ProblemType Classify(StanzaError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (IsUnavailable(error)) return ProblemTypes.ComponentUnavailable;
        var text = error.Text ?? "";
        return error.Condition switch
        {
            "bad-request" when CommandError.Is(error, CommandErrorCondition.BadAction) => ProblemTypes.CommandFailed,
            "bad-request" when text.StartsWith("Execution Errors", StringComparison.OrdinalIgnoreCase) => ProblemTypes.CommandFailed,
            "bad-request" or "not-acceptable" or "jid-malformed" => ProblemTypes.CommandRejected,
            "item-not-found" => ProblemTypes.CallNotFound,
            "forbidden" or "not-authorized" or "not-allowed" or "registration-required" or "subscription-required" => ProblemTypes.ComponentForbidden,
            "conflict" => ProblemTypes.ComponentConflict,
            "policy-violation" when error.Type == StanzaErrorType.Wait => ProblemTypes.RateLimited,
            _ => ProblemTypes.ComponentError,
        };
    }
}
