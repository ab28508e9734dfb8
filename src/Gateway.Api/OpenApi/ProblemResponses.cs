using Gateway.Api.Errors;
using Gateway.Api.Idempotency;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.OpenApi;

namespace Gateway.Api.OpenApi;

/// <summary>
/// The problems the middleware answers for an operation, whatever its handler declares: the exception handler (500
/// internal-error; 400 for a request it could not read), the request timeout (504 request-timeout), the body cap and
/// the JSON body reader (413, 415), the idempotency middleware (400 invalid-idempotency-key, 422 idempotency-key-reused).
/// An endpoint marked with <see cref="ProblemResponses.ProducesCommandProblems"/> may also answer every problem a failed
/// command maps to. Their schemas are set with the others' by <see cref="ProblemSchemas"/>.
/// </summary>
internal static class ProblemResponses
{
    /// <summary>What a failed command can be answered with (<see cref="ComponentErrors.Classify"/>, <see cref="GatewayExceptionHandler"/>).</summary>
    private static readonly ProblemType[] CommandFailures =
    [
        ProblemTypes.ComponentForbidden, ProblemTypes.CallNotFound, ProblemTypes.ComponentConflict, ProblemTypes.CommandRejected,
        ProblemTypes.CommandFailed, ProblemTypes.RateLimited, ProblemTypes.ComponentError, ProblemTypes.ComponentUnavailable,
        ProblemTypes.XmppUnavailable, ProblemTypes.ComponentTimeout,
    ];

    /// <summary>Marks an endpoint that sends Active-Calls commands while the request waits.</summary>
    public static RouteHandlerBuilder ProducesCommandProblems(this RouteHandlerBuilder builder) => builder.WithMetadata(new SendsCommands());

    internal static void AddImplicit(OpenApiOperation operation, IList<object> metadata)
    {
        if (metadata.OfType<SendsCommands>().Any())
            foreach (var status in CommandFailures.Select(t => t.Status).Distinct()) Add(operation, status);
        Add(operation, StatusCodes.Status500InternalServerError);
        if (!metadata.OfType<DisableRequestTimeoutAttribute>().Any()) Add(operation, StatusCodes.Status504GatewayTimeout);
        if (operation.Parameters is { Count: > 0 } || operation.RequestBody is not null) Add(operation, StatusCodes.Status400BadRequest);
        if (operation.RequestBody is not null)
        {
            Add(operation, StatusCodes.Status413PayloadTooLarge);
            Add(operation, StatusCodes.Status415UnsupportedMediaType);
        }
        if (metadata.OfType<IdempotentAttribute>().Any()) Add(operation, StatusCodes.Status422UnprocessableEntity);
        DeclareRetryAfter(operation);
    }

    /// <summary>A 429 or 503 tells when to retry (the rate limiter, <see cref="GatewayExceptionHandler"/>, a create whose
    /// outcome is unknown).</summary>
    private static void DeclareRetryAfter(OpenApiOperation operation)
    {
        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (status is not ("429" or "503") || response is not OpenApiResponse concrete) continue;
            concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
            concrete.Headers["Retry-After"] = new OpenApiHeader
            {
                Description = "Seconds to wait before retrying.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
            };
        }
    }

    private sealed class SendsCommands;

    /// <summary>Declares <paramref name="status"/> as a problem unless the operation declares it already (its description
    /// then comes from the document-wide wording).</summary>
    private static void Add(OpenApiOperation operation, int status)
    {
        operation.Responses ??= [];
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (operation.Responses.ContainsKey(key)) return;
        operation.Responses[key] = new OpenApiResponse
        {
            Content = new Dictionary<string, OpenApiMediaType> { [ProblemSchemas.MediaType] = new() },
        };
    }
}
