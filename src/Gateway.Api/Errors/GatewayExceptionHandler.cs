using System.Globalization;
using System.Text.Json;
using Gateway.Api.Commands;
using Gateway.Api.Configuration;
using Gateway.Api.Json;
using Gateway.Xmpp.Core;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Gateway.Api.Errors;

/// <summary>
/// The one exception handler: turns every exception into problem+json (the mapping is in <see cref="ProblemTypes"/>).
/// XMPP failures carry <c>xmppCondition</c>, <c>xmppErrorType</c>, <c>xmppApplicationCondition</c> and <c>xmppText</c>
/// (the component's text is also the <c>detail</c>), plus the <c>command</c> node and the <c>component</c> JID;
/// 503 and 429 carry <c>Retry-After</c>.
/// </summary>
internal sealed class GatewayExceptionHandler(
    IProblemDetailsService problemDetails, IOptions<HttpApiOptions> http, ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away (or the request timed out: the timeout middleware answers that one).
            return false;
        }
        var (problem, retryAfter) = Map(exception);
        if (problem.Status >= 500) logger.LogWarning("{Method} {Path} failed: {Code}: {Reason}", httpContext.Request.Method, httpContext.Request.Path, problem.Extensions["code"], exception.Message);
        if (problem.Status == 500) logger.LogError(exception, "Unhandled exception");
        httpContext.Response.StatusCode = problem.Status!.Value;
        if (retryAfter is { } delay)
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private (ProblemDetails Problem, TimeSpan? RetryAfter) Map(Exception exception)
    {
        var unavailableRetry = http.Value.UnavailableRetryAfter;
        switch (exception)
        {
            case CommandFailedException command:
            {
                var (problem, retryAfter) = MapCommand(command.InnerException!, unavailableRetry);
                problem.Extensions["command"] = command.Node;
                problem.Extensions["component"] = command.Component;
                if (command.CallSetupId is { } callSetupId)
                {
                    problem.Extensions["callSetupId"] = callSetupId;
                    problem.Detail += $" GET /calls/{callSetupId} shows the call if it was placed.";
                }
                return (problem, retryAfter);
            }
            case BadHttpRequestException bad:
                return (MapBadRequest(bad), null);
            default:
                return (Problems.Create(ProblemTypes.InternalError, "The gateway failed unexpectedly; the trace id identifies the failure in its logs."), null);
        }
    }

    private static (ProblemDetails, TimeSpan?) MapCommand(Exception inner, TimeSpan unavailableRetry)
    {
        switch (inner)
        {
            case XmppStanzaErrorException stanza:
            {
                var error = stanza.Error;
                var type = ComponentErrors.Classify(error);
                var detail = error.Text ?? type switch
                {
                    _ when type == ProblemTypes.ComponentUnavailable => "The Active-Calls component is not reachable; try again shortly.",
                    _ when type == ProblemTypes.CallNotFound => "The Active-Calls service does not know this call (it may just have ended).",
                    _ => $"The Active-Calls service answered '{error.Condition}'.",
                };
                var problem = Problems.Create(type, detail, new Dictionary<string, object?>
                {
                    ["xmppCondition"] = error.Condition,
                    ["xmppErrorType"] = error.Type.ToString().ToLowerInvariant(),
                    ["xmppApplicationCondition"] = error.ApplicationCondition?.LocalName,
                    ["xmppApplicationNamespace"] = error.ApplicationCondition?.NamespaceName,
                    ["xmppText"] = error.Text,
                });
                return (problem, type.Status is 503 or 429 ? unavailableRetry : null);
            }
            case XmppIqTimeoutException timeout:
                return (Problems.Create(ProblemTypes.ComponentTimeout,
                    $"No answer within {timeout.Timeout.TotalSeconds:0.#} s. The command may still have been carried out: check the call's state before retrying."), null);
            case XmppConnectionLostException { NeverSent: true } lost:
                return (Problems.Create(ProblemTypes.XmppUnavailable, $"The command was not sent: {lost.Message}"), unavailableRetry);
            case XmppConnectionLostException lost:
                return (Problems.Create(ProblemTypes.XmppUnavailable,
                    $"The XMPP connection was lost after the command was sent, so it may have been carried out: {lost.Message}",
                    new Dictionary<string, object?> { ["outcomeUnknown"] = true }), unavailableRetry);
            case BrokenCircuitException broken:
            {
                var retry = broken.RetryAfter ?? unavailableRetry;
                return (Problems.Create(ProblemTypes.ComponentUnavailable,
                    "The Active-Calls component kept failing or timing out; commands are paused (circuit breaker open).",
                    new Dictionary<string, object?> { ["circuitOpen"] = true }), retry);
            }
            case UnexpectedCommandResultException unexpected:
                return (Problems.Create(ProblemTypes.ComponentError, unexpected.Message), null);
            case XmppProtocolException protocol:
                return (Problems.Create(ProblemTypes.ComponentError, $"The component's answer could not be read: {protocol.Message}"), null);
            default:
                return (Problems.Create(ProblemTypes.ComponentError, inner.Message), null);
        }
    }

    private static ProblemDetails MapBadRequest(BadHttpRequestException bad)
    {
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
            return Problems.Create(ProblemTypes.PayloadTooLarge, bad.Message);
        if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
            return Problems.Create(ProblemTypes.UnsupportedMediaType, "Send the body as application/json.");
        if (bad.InnerException is JsonException json)
        {
            var error = JsonBodyErrors.Describe(json);
            return Problems.ValidationDetails(new Dictionary<string, string[]> { [error.Field] = [error.Message] }, error.Detail);
        }
        return Problems.Create(ProblemTypes.MalformedRequest, bad.Message);
    }
}
