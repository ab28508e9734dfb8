using Gateway.Api.Calls;
using Gateway.Api.Errors;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Api.OpenApi;

/// <summary>An example for an operation's request body (<see cref="StatusCode"/> null) or for one of its responses.</summary>
public sealed record OpenApiExampleMetadata(int? StatusCode, object Example);

/// <summary>What a response status means for one operation, where the document-wide wording does not fit.</summary>
public sealed record OpenApiResponseDescription(int StatusCode, string Description);

public static class OpenApiExampleExtensions
{
    public static RouteHandlerBuilder WithResponseDescription(this RouteHandlerBuilder builder, int statusCode, string description) =>
        builder.WithMetadata(new OpenApiResponseDescription(statusCode, description));

    /// <summary>A problem+json response with what it means for this operation (named apart from the framework's
    /// <c>ProducesProblem(status, contentType)</c>, whose second argument is a content type).</summary>
    public static RouteHandlerBuilder WithProblem(this RouteHandlerBuilder builder, int statusCode, string description) =>
        builder.ProducesProblem(statusCode).WithResponseDescription(statusCode, description);

    public static RouteHandlerBuilder WithRequestExample(this RouteHandlerBuilder builder, object example) =>
        builder.WithMetadata(new OpenApiExampleMetadata(null, example));

    public static RouteHandlerBuilder WithResponseExample(this RouteHandlerBuilder builder, int statusCode, object example) =>
        builder.WithMetadata(new OpenApiExampleMetadata(statusCode, example));
}

/// <summary>The examples shown in the OpenAPI document (and so in Swagger UI).</summary>
public static class OpenApiExamples
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 15, 9, 30, 0, TimeSpan.Zero);

    public static readonly CreateCallRequest CreateCallRequest = new()
    {
        From = "sip:alice@example.onsip.com",
        To = "15555554567@example.onsip.com",
        CallSetupId = "ab12cd34",
    };

    public static readonly TransferCallRequest TransferRequest = new() { Endpoint = "caller", Target = "sip:carol@example.onsip.com" };

    public static readonly CallResource RequestedCall = new()
    {
        Id = "ab12cd34",
        CallSetupId = "ab12cd34",
        From = "sip:alice@example.onsip.com",
        To = "sip:15555554567@example.onsip.com",
        State = CallState.Requested,
        CreatedAt = T0,
        UpdatedAt = T0,
        Legs = [],
    };

    public static readonly CallResource ConnectedCall = RequestedCall with
    {
        State = CallState.Connected,
        UpdatedAt = T0.AddSeconds(9),
        Legs =
        [
            new CallLegResource
            {
                ItemId = "b5879e23d6a92cc11f01a29e466f7bd2",
                Node = "/example.onsip.com/alice",
                Role = LegRole.Callee,
                DialogState = "confirmed",
                Active = true,
                CallId = "NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.",
                FromUri = "sip:alice@example.onsip.com",
                ToUri = "sip:15555554567@example.onsip.com",
                FromTag = "419cce6a",
                ToTag = "as11173b9d",
                CallSetupId = "ab12cd34",
                PublishTime = T0.AddSeconds(9),
                FirstSeenAt = T0.AddSeconds(5),
            },
        ],
    };

    public static readonly CallPage CallPage = new([ConnectedCall], "Y2FsbHM6MTI");

    public static readonly CallEventList EventList = new("ab12cd34",
    [
        new CallEvent { Id = "ab12cd34.1", Type = "call.requested", Sequence = 1, OccurredAt = T0, Call = RequestedCall },
        new CallEvent { Id = "ab12cd34.2", Type = "call.connected", Sequence = 2, OccurredAt = T0.AddSeconds(9), Call = ConnectedCall },
    ]);

    public static readonly HttpValidationProblemDetails ValidationProblem = Validation("/calls", new Dictionary<string, string[]>
    {
        ["from"] = ["must be a SIP URI 'sip:user@domain'."],
        ["callSetupId"] = ["must be exactly 8 letters or digits (A-Z, a-z, 0-9)."],
    });

    public static readonly ProblemDetails CommandFailedProblem = WithXmpp(AsSent("/calls", Problems.Create(ProblemTypes.CommandFailed,
        "Execution Errors; Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response")),
        "bad-request", "modify", "bad-payload", "Execution Errors; Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response");

    public static readonly ProblemDetails ComponentUnavailableProblem = WithXmpp(AsSent("/calls", Problems.Create(ProblemTypes.ComponentUnavailable, "Component unavailable")),
        "remote-server-timeout", "wait", "not-connected", "Component unavailable");

    public static readonly ProblemDetails DestinationNotAllowedProblem = AsSent("/calls", CallsApi.DestinationNotAllowed("to", "sip:19005550100@example.onsip.com"));

    public static readonly ProblemDetails CallNotFoundProblem = AsSent("/calls/zz99zz99", Problems.Create(ProblemTypes.CallNotFound,
        "No call with id or SIP Call-ID 'zz99zz99' is known (ended calls are kept for a limited time)."));

    /// <summary>A validation-failed problem with these per-field errors, as the handlers answer it to a request for <paramref name="instance"/>.</summary>
    public static HttpValidationProblemDetails Validation(string instance, Dictionary<string, string[]> errors) => AsSent(instance, Problems.ValidationDetails(errors));

    /// <summary>What every answer adds to a problem (<see cref="Problems"/>' Complete): the request's path and a trace id.</summary>
    private static T AsSent<T>(string instance, T problem) where T : ProblemDetails
    {
        problem.Instance = instance;
        problem.Extensions["traceId"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        return problem;
    }

    private static ProblemDetails WithXmpp(ProblemDetails problem, string condition, string type, string application, string text)
    {
        problem.Extensions["xmppCondition"] = condition;
        problem.Extensions["xmppErrorType"] = type;
        problem.Extensions["xmppApplicationCondition"] = application;
        problem.Extensions["xmppText"] = text;
        problem.Extensions["command"] = "create";
        problem.Extensions["component"] = "commands.active-calls.xmpp.onsip.com";
        return problem;
    }
}
